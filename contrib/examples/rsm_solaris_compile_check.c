/*
 * rsm_solaris_compile_check.c - a Solaris-style RSMAPI exporter/importer,
 * used as a COMPILE check of include/rsmapi.h. It is not runnable yet: the
 * RSMAPI functions are not implemented in ucx_cpg so far, and the program
 * will not link until they are.
 *
 * It is written the way Solaris RSMAPI programs were (Solaris types such as
 * uint_t and caddr_t, PAGESIZE, nothing Linux-specific) and must compile
 * unchanged:
 *
 *   gcc -std=gnu11 -Wall -Wextra -Werror -Iinclude -c \
 *       contrib/examples/rsm_solaris_compile_check.c
 *
 * Usage, once implemented:  rsm_solaris_compile_check -e -n <importer node>
 *                           rsm_solaris_compile_check -i -n <exporter node>
 * The exporter publishes one page as segment SEGID to the importer node,
 * waits for a signal and prints the message the importer wrote; the importer
 * connects, writes the message with put, reads it back with get and putv,
 * and signals the exporter.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <poll.h>
#include <rsmapi.h>

#define SEGID   (RSM_HPC_ID_BASE + 0x10)   /* an application-chosen id */
#define MSG     "hello from the importer"

static void
fail(const char *what, int err)
{
	(void) fprintf(stderr, "%s failed: RSMERR %d\n", what, err);
	exit(1);
}

/* Prints the interconnect topology; returns the local node id. */
static rsm_node_id_t
show_topology(void)
{
	rsm_topology_t *tp;
	rsm_node_id_t self;
	uint_t i;
	int j, err;

	if ((err = rsm_get_interconnect_topology(&tp)) != RSM_SUCCESS)
		fail("rsm_get_interconnect_topology", err);
	self = tp->topology_hdr.local_nodeid;
	(void) printf("node %u, %u controller(s)\n", self,
	    tp->topology_hdr.local_cntlr_count);
	for (i = 0; i < tp->topology_hdr.local_cntlr_count; i++) {
		rsm_connections_t *conn = tp->connections[i];

		(void) printf("  %s (hw 0x%llx)\n", conn->hdr.cntlr_name,
		    (unsigned long long)conn->hdr.local_hwaddr);
		for (j = 0; j < conn->hdr.remote_cntlr_count; j++) {
			rsm_remote_cntlr_t *rc = &conn->remote_cntlr[j];

			if (rc->connection_state != RSM_CONNECTION_ACTIVE)
				continue;
			(void) printf("    -> node %u %s\n", rc->remote_nodeid,
			    rc->remote_cntlrname);
		}
	}
	rsm_free_interconnect_topology(tp);
	return (self);
}

static void
exporter(rsmapi_controller_handle_t ctlr, rsm_node_id_t peer)
{
	rsm_memseg_export_handle_t seg;
	rsm_memseg_id_t segid = SEGID;
	rsmapi_access_entry_t acl[1];
	rsmapi_controller_attr_t attr;
	struct pollfd pfd;
	size_t size = (size_t)PAGESIZE;
	caddr_t buf;
	uint_t flags = RSM_ALLOW_REBIND;
	int nfds, err;

	if ((err = rsm_get_controller_attr(ctlr, &attr)) != RSM_SUCCESS)
		fail("rsm_get_controller_attr", err);
	if (attr.attr_page_size > size)
		size = attr.attr_page_size;

	buf = (caddr_t)valloc(size);
	if (buf == NULL)
		exit(1);
	(void) memset(buf, 0, size);

	if ((err = rsm_memseg_export_create(ctlr, &seg, buf, size,
	    flags)) != RSM_SUCCESS)
		fail("rsm_memseg_export_create", err);

	/* Only the importer's node, read and write for everyone on it. */
	acl[0].ae_node = peer;
	acl[0].ae_permission = RSM_PERM_RDWR | (RSM_PERM_RDWR >> 3) |
	    (RSM_PERM_RDWR >> 6);
	if ((err = rsm_memseg_export_publish(seg, &segid, acl,
	    sizeof (acl) / sizeof (acl[0]))) != RSM_SUCCESS)
		fail("rsm_memseg_export_publish", err);
	(void) printf("published segment 0x%x\n", segid);

	/* Wait for the importer's signal, either way. */
	if ((err = rsm_memseg_get_pollfd(seg, &pfd)) != RSM_SUCCESS)
		fail("rsm_memseg_get_pollfd", err);
	err = rsm_intr_signal_wait_pollfd(&pfd, 1, 10000, &nfds);
	(void) rsm_memseg_release_pollfd(seg);
	if (err == RSMERR_TIMEOUT)
		err = rsm_intr_signal_wait(seg, -1);
	if (err != RSM_SUCCESS)
		fail("rsm_intr_signal_wait", err);
	(void) printf("importer wrote: %.*s\n", (int)sizeof (MSG), buf);

	/* Tell the importer we are done, then withdraw the segment. */
	(void) rsm_intr_signal_post(seg, 0);
	if ((err = rsm_memseg_export_unpublish(seg)) != RSM_SUCCESS)
		fail("rsm_memseg_export_unpublish", err);
	if ((err = rsm_memseg_export_destroy(seg)) != RSM_SUCCESS)
		fail("rsm_memseg_export_destroy", err);
	free(buf);
}

static void
importer(rsmapi_controller_handle_t ctlr, rsm_node_id_t peer)
{
	rsm_memseg_import_handle_t im;
	rsm_localmemory_handle_t lh;
	rsmapi_barrier_t bar;
	rsm_barrier_mode_t mode;
	rsm_scat_gath_t sg;
	rsm_iovec_t iov[2];
	char msg[] = MSG;
	char back[sizeof (MSG)];
	uint32_t word = 0;
	caddr_t local;
	size_t pgsz = (size_t)PAGESIZE;
	void *addr = NULL;
	int err;

	if ((err = rsm_memseg_import_connect(ctlr, peer, SEGID,
	    RSM_PERM_RDWR, &im)) != RSM_SUCCESS)
		fail("rsm_memseg_import_connect", err);

	/* A barrier is needed even in the default (implicit) mode. */
	if ((err = rsm_memseg_import_init_barrier(im, RSM_BARRIER_SEGMENT,
	    &bar)) != RSM_SUCCESS)
		fail("rsm_memseg_import_init_barrier", err);
	if ((err = rsm_memseg_import_get_mode(im, &mode)) != RSM_SUCCESS)
		fail("rsm_memseg_import_get_mode", err);
	if (mode != RSM_BARRIER_MODE_EXPLICIT &&
	    (err = rsm_memseg_import_set_mode(im,
	    RSM_BARRIER_MODE_EXPLICIT)) != RSM_SUCCESS)
		fail("rsm_memseg_import_set_mode", err);

	/* Explicit mode: one span around the writes and reads. */
	do {
		if ((err = rsm_memseg_import_open_barrier(&bar)) != RSM_SUCCESS)
			fail("rsm_memseg_import_open_barrier", err);
		(void) rsm_memseg_import_put(im, 0, msg, sizeof (msg));
		(void) rsm_memseg_import_order_barrier(&bar);
		(void) rsm_memseg_import_get(im, 0, back, sizeof (back));
		(void) rsm_memseg_import_get32(im, 0, &word, 1);
		err = rsm_memseg_import_close_barrier(&bar);
	} while (err == RSMERR_BARRIER_FAILURE);
	if (err != RSM_SUCCESS)
		fail("rsm_memseg_import_close_barrier", err);
	(void) printf("read back: %s (first word 0x%x)\n", back, word);

	/* The same message again with putv: one entry by address, one through
	 * a local memory handle. */
	local = (caddr_t)valloc(pgsz);
	if (local == NULL)
		exit(1);
	(void) memcpy(local, msg, sizeof (msg));
	if ((err = rsm_create_localmemory_handle(ctlr, &lh, local,
	    pgsz)) != RSM_SUCCESS)
		fail("rsm_create_localmemory_handle", err);
	iov[0].io_type = RSM_VA_TYPE;
	iov[0].local.vaddr = (caddr_t)msg;
	iov[0].local_offset = 0;
	iov[0].remote_offset = 0;
	iov[0].transfer_length = 8;
	iov[1].io_type = RSM_HANDLE_TYPE;
	iov[1].local.handle = lh;
	iov[1].local_offset = 8;
	iov[1].remote_offset = 8;
	iov[1].transfer_length = sizeof (msg) - 8;
	sg.local_nodeid = 0;
	sg.io_request_count = 2;
	sg.io_residual_count = 0;
	sg.flags = RSM_IMPLICIT_SIGPOST;	/* signals the exporter */
	sg.remote_handle = im;
	sg.iovec = iov;
	(void) rsm_memseg_import_set_mode(im, RSM_BARRIER_MODE_IMPLICIT);
	if ((err = rsm_memseg_import_putv(&sg)) != RSM_SUCCESS)
		(void) fprintf(stderr, "putv: %d, %lu not done\n", err,
		    sg.io_residual_count);
	(void) rsm_free_localmemory_handle(ctlr, lh);
	free(local);

	/* Mapping works only on some interconnects; put/get always do. */
	err = rsm_memseg_import_map(im, &addr, RSM_MAP_NONE, RSM_PERM_READ,
	    0, pgsz);
	if (err == RSM_SUCCESS) {
		(void) printf("mapped: %.8s\n", (char *)addr);
		(void) rsm_memseg_import_unmap(im);
	} else if (err != RSMERR_MAP_FAILED) {
		fail("rsm_memseg_import_map", err);
	}

	/* Wait for the exporter's reply, then leave. */
	if ((err = rsm_intr_signal_wait(im, 10000)) != RSM_SUCCESS &&
	    err != RSMERR_TIMEOUT && err != RSMERR_CONN_ABORTED)
		fail("rsm_intr_signal_wait", err);
	(void) rsm_memseg_import_destroy_barrier(&bar);
	if ((err = rsm_memseg_import_disconnect(im)) != RSM_SUCCESS)
		fail("rsm_memseg_import_disconnect", err);
}

int
main(int argc, char **argv)
{
	rsmapi_controller_handle_t ctlr;
	rsm_memseg_id_t base;
	uint32_t len;
	rsm_node_id_t peer = 0;
	char *ctlr_name = "loopback";
	int export = 0, import = 0, c, err;

	while ((c = getopt(argc, argv, "eic:n:")) != -1) {
		switch (c) {
		case 'e':
			export = 1;
			break;
		case 'i':
			import = 1;
			break;
		case 'c':
			ctlr_name = optarg;
			break;
		case 'n':
			peer = (rsm_node_id_t)strtoul(optarg, NULL, 0);
			break;
		default:
			(void) fprintf(stderr,
			    "usage: %s -e|-i -n node [-c controller]\n", argv[0]);
			return (2);
		}
	}
	if (export == import) {
		(void) fprintf(stderr, "exactly one of -e and -i\n");
		return (2);
	}

	if (show_topology() == peer)
		ctlr_name = "loopback";
	if (rsm_get_segmentid_range("rsmtest", &base, &len) == RSM_SUCCESS)
		(void) printf("reserved ids 0x%x..0x%x\n", base, base + len - 1);

	if ((err = rsm_get_controller(ctlr_name, &ctlr)) != RSM_SUCCESS)
		fail("rsm_get_controller", err);
	if (export)
		exporter(ctlr, peer);
	else
		importer(ctlr, peer);
	(void) rsm_release_controller(ctlr);
	return (0);
}
