/*
 * segid_range.c - rsm_get_segmentid_range: the segment ids an application
 * reserved in the segment-id file (rsmapi.md section 3.12).
 *
 * The file is the one named by the configuration key rsm_segmentid_file
 * (UCX_CPG_RSM_SEGMENTID_FILE, default /etc/rsm/rsm.segmentid); no domain is
 * needed to read it. Each line is
 *
 *     reserved <appid> <hex base> <decimal length>
 *
 * with fields separated by blanks and tabs; '#' starts a comment that runs to
 * the end of the line. The application may use ids [base, base + length).
 *
 * Where the reference is loose, we decided:
 *   - Blank lines (and lines holding only blanks or a comment) are tolerated;
 *     the reference documents "no blank lines" but an editor adds them.
 *   - The whole file is checked on every call, not only the lines up to the
 *     match, so a broken file is reported as broken (RSMERR_BAD_CONF) whatever
 *     appid is asked for. If an appid is listed twice, the first line wins.
 *   - The keyword is exactly "reserved" (the man page's "reserve" is a typo of
 *     its own example); the appid matches case-insensitively.
 *   - The base may carry a 0x prefix; base and length are digits only (no
 *     sign, no blanks), each at most 0xffffffff, and base + length must fit in
 *     32 bits, so that "id < base + length" cannot wrap in the application.
 *   - A fifth field, other than a comment, is an error: it is most likely a
 *     typo that would otherwise be silently ignored.
 * Output parameters are written only on success.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE         /* getline */
#endif
#include "rsm_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/config.h"
#include "core/log.h"

#define UCPG_RSM_SEGID_KEYWORD  "reserved"
#define UCPG_RSM_SEGID_FIELDS   4
#define UCPG_RSM_SEGID_SEP      " \t"

/* One reservation line, pointing into the line buffer. */
typedef struct ucpg_rsm_segid_entry {
    const char *appid;
    uint32_t    base;
    uint32_t    length;
} ucpg_rsm_segid_entry_t;

/*
 * text as a 32-bit number of the given base (16 also takes a 0x prefix). The
 * text must be nothing but digits: strtoul alone would accept blanks and a
 * sign (and negate). Returns 0 on success.
 */
static int ucpg_rsm_segid_parse_u32(const char *text, int base, uint32_t *value_p)
{
    const char *charset = (base == 16) ? "0123456789abcdefABCDEF" : "0123456789";
    unsigned long value;
    char *end;

    if ((base == 16) && (text[0] == '0') && ((text[1] == 'x') || (text[1] == 'X'))) {
        text += 2;
    }
    if ((text[0] == '\0') || (text[strspn(text, charset)] != '\0')) {
        return -1;
    }

    errno = 0;
    value = strtoul(text, &end, base);
    if ((errno == ERANGE) || (*end != '\0') || (value > UINT32_MAX)) {
        return -1;
    }
    *value_p = (uint32_t)value;
    return 0;
}

/*
 * Parses one line (edited in place). Returns NULL with *is_entry_p = 0 for a
 * blank or comment line, NULL with *is_entry_p = 1 and *entry filled for a
 * reservation, or the reason the line is invalid.
 */
static const char *ucpg_rsm_segid_parse_line(char *line, size_t len, int *is_entry_p,
                                             ucpg_rsm_segid_entry_t *entry)
{
    char *field[UCPG_RSM_SEGID_FIELDS + 1];
    char *save = NULL, *token;
    unsigned nfields = 0;

    *is_entry_p = 0;
    if (strlen(line) != len) {
        return "NUL byte in line";
    }
    line[strcspn(line, "#\n")] = '\0';   /* comment and line end */

    for (token = strtok_r(line, UCPG_RSM_SEGID_SEP, &save);
         (token != NULL) && (nfields <= UCPG_RSM_SEGID_FIELDS);
         token = strtok_r(NULL, UCPG_RSM_SEGID_SEP, &save)) {
        field[nfields++] = token;
    }

    if (nfields == 0) {
        return NULL;
    }
    if (nfields < UCPG_RSM_SEGID_FIELDS) {
        return "short line, expected \"reserved <appid> <hex base> <decimal length>\"";
    }
    if (nfields > UCPG_RSM_SEGID_FIELDS) {
        return "unexpected text after the length";
    }
    if (strcmp(field[0], UCPG_RSM_SEGID_KEYWORD) != 0) {
        return "unknown keyword, expected \"reserved\"";
    }
    if (ucpg_rsm_segid_parse_u32(field[2], 16, &entry->base) != 0) {
        return "base is not a hexadecimal number of at most 32 bits";
    }
    if (ucpg_rsm_segid_parse_u32(field[3], 10, &entry->length) != 0) {
        return "length is not a decimal number of at most 32 bits";
    }
    if ((uint64_t)entry->base + entry->length > UINT32_MAX) {
        return "base + length does not fit in 32 bits";
    }

    entry->appid = field[1];
    *is_entry_p  = 1;
    return NULL;
}

/* Looks appid up in the file at path; RSM_SUCCESS fills *base_p, *length_p. */
static int ucpg_rsm_segid_lookup(const char *path, const char *appid,
                                 uint32_t *base_p, uint32_t *length_p)
{
    ucpg_rsm_segid_entry_t entry;
    int ret = RSMERR_BAD_APPID;
    unsigned line_no = 0;
    size_t line_cap = 0;
    char *line = NULL;
    const char *reason;
    ssize_t line_len;
    int is_entry;
    FILE *file;

    file = fopen(path, "re");
    if (file == NULL) {
        ucpg_error("rsm: cannot open segment-id file %s: %s", path, strerror(errno));
        return RSMERR_BAD_CONF;
    }

    while ((line_len = getline(&line, &line_cap, file)) >= 0) {
        ++line_no;
        reason = ucpg_rsm_segid_parse_line(line, (size_t)line_len, &is_entry, &entry);
        if (reason != NULL) {
            ucpg_error("rsm: %s:%u: %s", path, line_no, reason);
            ret = RSMERR_BAD_CONF;
            goto out;
        }
        if (is_entry && (ret == RSMERR_BAD_APPID) && (strcasecmp(entry.appid, appid) == 0)) {
            /* Found; the rest of the file is still checked (file comment). */
            *base_p   = entry.base;
            *length_p = entry.length;
            ret       = RSM_SUCCESS;
        }
    }
    if (!feof(file)) {
        /* e.g. EISDIR: fopen() of a directory succeeds, reading it does not. */
        ucpg_error("rsm: cannot read segment-id file %s: %s", path, strerror(errno));
        ret = RSMERR_BAD_CONF;
    } else if (ret == RSMERR_BAD_APPID) {
        ucpg_debug("rsm: no reservation for \"%.64s\" in %s", appid, path);
    }

out:
    free(line);
    fclose(file);
    return ret;
}

int rsm_get_segmentid_range(const char *appid, rsm_memseg_id_t *baseid, uint32_t *length)
{
    uint32_t base, len;
    ucpg_config_t *config;
    ucpg_status_t status;
    int ret;

    if ((appid == NULL) || (baseid == NULL) || (length == NULL)) {
        return RSMERR_BAD_ADDR;
    }

    /* Large (several path buffers): not on the application's stack. */
    config = malloc(sizeof(*config));
    if (config == NULL) {
        ucpg_error("rsm: no memory to load the configuration");
        return RSMERR_INSUFFICIENT_MEM;
    }
    status = ucpg_config_load(config);
    if (status != UCPG_OK) {
        /* ucpg_config_load named the bad key. */
        free(config);
        return (status == UCPG_ERR_NO_MEMORY) ? RSMERR_INSUFFICIENT_MEM : RSMERR_BAD_CONF;
    }

    ret = ucpg_rsm_segid_lookup(config->rsm_segmentid_file, appid, &base, &len);
    free(config);
    if (ret != RSM_SUCCESS) {
        return ret;
    }

    *baseid = base;
    *length = len;
    return RSM_SUCCESS;
}
