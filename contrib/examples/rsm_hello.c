/*
 * rsm_hello.c - the classic RSMAPI exporter/importer pair, as a Solaris
 * program would write it, built on Linux with -lrsm against ucx_cpg.
 *
 *   rsm_hello export [SEGID]          # terminal 1: export and publish a segment
 *   rsm_hello import [SEGID [NODE]]   # terminal 2: write a greeting into it
 *
 * The exporter publishes a 64 KiB segment and waits for a signal; the
 * importer connects, puts a message inside an explicit barrier, and signals;
 * the exporter prints the message from its own memory and signals back.
 * SEGID defaults to 0x400200 (the HPC range), NODE to the local node.
 * Exit status 0 on success, 1 on any RSMAPI error (printed with its code).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <rsmapi.h>

#define SEG_SIZE  (64 * 1024)
#define WAIT_MS   30000

static int check(const char *what, int ret)
{
    if (ret != RSM_SUCCESS) {
        fprintf(stderr, "rsm_hello: %s failed: error %d\n", what, ret);
        exit(1);
    }
    return ret;
}

static rsm_node_id_t local_node(void)
{
    rsm_topology_t *topo;
    rsm_node_id_t node;

    check("rsm_get_interconnect_topology", rsm_get_interconnect_topology(&topo));
    node = topo->topology_hdr.local_nodeid;
    rsm_free_interconnect_topology(topo);
    return node;
}

static int do_export(rsm_memseg_id_t segid)
{
    rsmapi_controller_handle_t ctlr;
    rsm_memseg_export_handle_t seg;
    caddr_t mem;

    mem = mmap(NULL, SEG_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    memset(mem, 0, SEG_SIZE);
    check("rsm_get_controller", rsm_get_controller("ucx0", &ctlr));
    check("rsm_memseg_export_create", rsm_memseg_export_create(ctlr, &seg, mem, SEG_SIZE, 0));
    check("rsm_memseg_export_publish", rsm_memseg_export_publish(seg, &segid, NULL, 0));
    printf("exported segment %#x on node %u; waiting for an importer\n", segid, local_node());
    fflush(stdout);
    check("rsm_intr_signal_wait", rsm_intr_signal_wait(seg, WAIT_MS));
    printf("the importer wrote: \"%s\"\n", mem);
    check("rsm_intr_signal_post", rsm_intr_signal_post(seg, 0));
    /* give the importer its reply before the segment goes away */
    check("rsm_intr_signal_wait", rsm_intr_signal_wait(seg, WAIT_MS));
    check("rsm_memseg_export_destroy", rsm_memseg_export_destroy(seg));
    check("rsm_release_controller", rsm_release_controller(ctlr));
    return 0;
}

static int do_import(rsm_memseg_id_t segid, rsm_node_id_t node)
{
    char msg[64] = "hello from an RSMAPI importer", back[64];
    rsmapi_controller_handle_t ctlr;
    rsm_memseg_import_handle_t im;
    rsmapi_barrier_t bar;

    check("rsm_get_controller", rsm_get_controller("ucx0", &ctlr));
    if (node == 0) {
        node = local_node();
    }
    check("rsm_memseg_import_connect",
          rsm_memseg_import_connect(ctlr, node, segid, RSM_PERM_RDWR, &im));
    check("rsm_memseg_import_set_mode",
          rsm_memseg_import_set_mode(im, RSM_BARRIER_MODE_EXPLICIT));
    check("rsm_memseg_import_init_barrier",
          rsm_memseg_import_init_barrier(im, RSM_BARRIER_SEGMENT, &bar));
    check("rsm_memseg_import_open_barrier", rsm_memseg_import_open_barrier(&bar));
    check("rsm_memseg_import_put", rsm_memseg_import_put(im, 0, msg, sizeof(msg)));
    check("rsm_memseg_import_close_barrier", rsm_memseg_import_close_barrier(&bar));
    check("rsm_intr_signal_post", rsm_intr_signal_post(im, 0));
    check("rsm_intr_signal_wait", rsm_intr_signal_wait(im, WAIT_MS));
    check("rsm_memseg_import_get", rsm_memseg_import_get(im, 0, back, sizeof(back)));
    printf("read back: \"%s\" (%s)\n", back, strcmp(back, msg) == 0 ? "match" : "MISMATCH");
    check("rsm_intr_signal_post", rsm_intr_signal_post(im, 0));
    check("rsm_memseg_import_destroy_barrier", rsm_memseg_import_destroy_barrier(&bar));
    check("rsm_memseg_import_disconnect", rsm_memseg_import_disconnect(im));
    check("rsm_release_controller", rsm_release_controller(ctlr));
    return strcmp(back, msg) != 0;
}

int main(int argc, char **argv)
{
    rsm_memseg_id_t segid = (argc > 2) ? (rsm_memseg_id_t)strtoul(argv[2], NULL, 0) : 0x400200;

    if ((argc >= 2) && (strcmp(argv[1], "export") == 0)) {
        return do_export(segid);
    }
    if ((argc >= 2) && (strcmp(argv[1], "import") == 0)) {
        return do_import(segid, (argc > 3) ? (rsm_node_id_t)strtoul(argv[3], NULL, 0) : 0);
    }
    fprintf(stderr, "usage: rsm_hello export [SEGID] | import [SEGID [NODE]]\n");
    return 2;
}
