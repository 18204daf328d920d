/*
 * fuzz_dir.c - fuzz target for the group directory's messages between nodes
 * (boot/dir_wire.h): DIR_OPEN, DIR_LIST, DIR_PUBLISH and DIR_ANSWER bodies,
 * which a process decodes from any peer of its domain.
 *
 * The first input byte picks the type (3..6, and every other value, which
 * must be refused), the rest is the body. What must hold, besides "no
 * crash, no read out of bounds" (run under ASan in CI):
 *   - a successful decode re-encodes, with the directory's own encoders, to
 *     the very same body, so nothing was skipped, invented or truncated;
 *   - names are at most UCPG_REGISTRY_GROUP_NAME_MAX bytes and lie inside
 *     the body, records list at most UCPG_REGISTRY_GROUP_MEMBERS members,
 *     answers at most UCPG_REGISTRY_NGROUPS records, and no gen or
 *     sequencer incarnation is 0.
 * fuzz_target_generate makes valid bodies of each type for the driver.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot/dir_wire.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
size_t fuzz_target_generate(uint8_t *buf, size_t cap, int edit, uint64_t (*rng)(void));

#define FUZZ_DIR_MAX  (1u << 20)    /* re-encoding room: far above any input */

static ucpg_registry_gmember_t fuzz_dir_members[UCPG_REGISTRY_GROUP_MEMBERS];

/* Re-encodes m's records into w, checking each on the way. */
static void fuzz_dir_reencode_records(const ucpg_boot_dir_msg_t *m, ucpg_wire_writer_t *w)
{
    ucpg_registry_group_t g;
    ucpg_boot_dir_records_t it;
    uint32_t n = 0;

    ucpg_boot_dir_records_init(&it, m);
    while (ucpg_boot_dir_records_next(&it, &g, fuzz_dir_members)) {
        FUZZ_CHECK((g.gen != 0) && (g.seq_uuid != 0));
        FUZZ_CHECK(g.name_len <= UCPG_REGISTRY_GROUP_NAME_MAX);
        FUZZ_CHECK(g.nmembers <= UCPG_REGISTRY_GROUP_MEMBERS);
        ucpg_boot_dir_put_record(w, &g, fuzz_dir_members, g.nmembers);
        n++;
    }
    FUZZ_CHECK(n == m->nrecords);        /* validated records all iterate */
}

static void fuzz_dir_reencode(const ucpg_boot_dir_msg_t *m, ucpg_wire_writer_t *w)
{
    switch (m->type) {
    case UCPG_BOOT_MSG_DIR_OPEN:
        ucpg_boot_dir_put_open(w, &m->creator, m->name, m->name_len);
        break;
    case UCPG_BOOT_MSG_DIR_LIST:
        ucpg_boot_dir_put_list(w, m->all, m->name, m->name_len);
        break;
    case UCPG_BOOT_MSG_DIR_ANSWER:
        ucpg_boot_dir_put_answer_head(w, m->status, m->created, m->nrecords);
        fuzz_dir_reencode_records(m, w);
        break;
    default:
        fuzz_dir_reencode_records(m, w);
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t again[FUZZ_DIR_MAX];
    const uint8_t *body = data + 1;
    ucpg_boot_dir_msg_t m;
    ucpg_wire_writer_t w;

    fuzz_input      = data;
    fuzz_input_size = size;
    if ((size == 0) || (ucpg_boot_dir_msg_decode(data[0], body, size - 1, &m) != UCPG_OK)) {
        return 0;
    }
    FUZZ_CHECK((data[0] >= UCPG_BOOT_MSG_DIR_OPEN) && (data[0] <= UCPG_BOOT_MSG_DIR_ANSWER));
    FUZZ_CHECK(m.name_len <= UCPG_REGISTRY_GROUP_NAME_MAX);
    FUZZ_CHECK((m.name == NULL) || ((m.name >= body) && (m.name + m.name_len <= body + size - 1)));
    FUZZ_CHECK(m.nrecords <= UCPG_REGISTRY_NGROUPS);
    ucpg_wire_writer_init(&w, again, sizeof(again));
    fuzz_dir_reencode(&m, &w);
    FUZZ_CHECK(!w.overflow && (w.len == size - 1));
    FUZZ_CHECK(memcmp(again, body, size - 1) == 0);
    return 0;
}

/* --- valid inputs for the driver --------------------------------------------------------- */

static void fuzz_dir_gen_member(ucpg_registry_gmember_t *m, uint64_t (*rng)(void))
{
    memset(m, 0, sizeof(*m));
    m->slot   = (uint32_t)(rng() % 8);
    m->nodeid = (uint32_t)(rng() % 3 + 1);
    m->pid    = (uint32_t)rng();
    m->uuid   = rng() | 1;
}

/* A name of up to 140 bytes: the decoder must refuse above 128. */
static uint32_t fuzz_dir_gen_name(uint8_t *name, uint64_t (*rng)(void))
{
    uint32_t len = (uint32_t)((rng() % 4 == 0) ? rng() % 141 : rng() % 16);

    memset(name, 'g', len);
    return len;
}

static void fuzz_dir_gen_record(ucpg_wire_writer_t *w, uint64_t (*rng)(void))
{
    static uint8_t name[140];
    ucpg_registry_group_t g;
    uint32_t n = (uint32_t)(rng() % 4), i, len;

    memset(&g, 0, sizeof(g));
    g.gen      = rng() | 1;
    g.view_id  = rng() % 100;
    g.index    = (uint32_t)(rng() % 256);
    g.seq_slot = (uint32_t)(rng() % 8);
    g.seq_uuid = rng() | 1;
    len        = fuzz_dir_gen_name(name, rng);
    g.name_len = (len <= UCPG_REGISTRY_GROUP_NAME_MAX) ? len : UCPG_REGISTRY_GROUP_NAME_MAX;
    memcpy(g.name, name, g.name_len);
    for (i = 0; i < n; ++i) {
        fuzz_dir_gen_member(&fuzz_dir_members[i], rng);
    }
    ucpg_boot_dir_put_record(w, &g, fuzz_dir_members, n);
}

size_t fuzz_target_generate(uint8_t *buf, size_t cap, int edit, uint64_t (*rng)(void))
{
    static const ucpg_status_t statuses[3] = {UCPG_OK, UCPG_ERR_BUSY, UCPG_ERR_NO_RESOURCE};
    ucpg_registry_gmember_t creator;
    ucpg_wire_writer_t w;
    uint8_t name[140];
    uint32_t i, n, len;
    uint8_t type = (uint8_t)(UCPG_BOOT_MSG_DIR_OPEN + rng() % 4);

    if (cap < 2) {
        return 0;
    }
    buf[0] = type;
    ucpg_wire_writer_init(&w, buf + 1, cap - 1);
    if (type == UCPG_BOOT_MSG_DIR_OPEN) {
        fuzz_dir_gen_member(&creator, rng);
        len = fuzz_dir_gen_name(name, rng);
        ucpg_boot_dir_put_open(&w, &creator, name, len);
    } else if (type == UCPG_BOOT_MSG_DIR_LIST) {
        len = fuzz_dir_gen_name(name, rng);
        ucpg_boot_dir_put_list(&w, (int)(rng() % 2), name, len);
    } else if (type == UCPG_BOOT_MSG_DIR_PUBLISH) {
        fuzz_dir_gen_record(&w, rng);
    } else {
        i = (uint32_t)(rng() % 3);
        n = (statuses[i] == UCPG_OK) ? (uint32_t)(rng() % 3) : 0;
        ucpg_boot_dir_put_answer_head(&w, statuses[i], (int)(rng() % 2), n);
        for (i = 0; i < n; ++i) {
            fuzz_dir_gen_record(&w, rng);
        }
    }
    if (w.overflow) {
        return 0;
    }
    if (edit && (w.len > 0)) {
        buf[1 + rng() % w.len] ^= (uint8_t)(1u << (rng() % 8));   /* one bit off */
    }
    return 1 + w.len;
}
