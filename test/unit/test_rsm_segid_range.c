/*
 * test_rsm_segid_range.c - unit tests of rsm_get_segmentid_range: the
 * segment-id file format (rsmapi.md section 3.12 and the decisions in
 * rsm/segid_range.c), one property per test.
 *
 * Each test writes its segment-id file to a fresh temporary file and points
 * UCX_CPG_RSM_SEGMENTID_FILE at it; UCX_CPG_CONFIG="" keeps a configuration
 * file of the machine out of the way. The library log is captured in a
 * temporary file so tests can check what was reported.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit_util.h"

#include "rsmapi.h"
#include "core/log.h"

#define TEMP_TEMPLATE "/tmp/ucpg_test_segid_XXXXXX"

/* Output values that no valid call returns, to see outputs left alone. */
#define UNTOUCHED_BASE   0xdeadbeefu
#define UNTOUCHED_LENGTH 0xfeedfaceu


/* --- helpers -------------------------------------------------------------- */

static char capture_path[sizeof(TEMP_TEMPLATE)];
static char segid_path[sizeof(TEMP_TEMPLATE)];

static void temp_file_create(char *path, const char *text, size_t len)
{
    strcpy(path, TEMP_TEMPLATE);
    unit_temp_file(path, text, len);
}

/* Makes text the segment-id file of the current test. */
static void segid_file(const char *text)
{
    temp_file_create(segid_path, text, strlen(text));
    assert_int_equal(setenv("UCX_CPG_RSM_SEGMENTID_FILE", segid_path, 1), 0);
}

static int captured_log_contains(const char *needle)
{
    return unit_file_contains(capture_path, needle);
}

/* rsm_get_segmentid_range(appid) on the current file; outputs in *base_p and
 * *length_p, which start at the UNTOUCHED values. */
static int lookup(const char *appid, uint32_t *base_p, uint32_t *length_p)
{
    *base_p   = UNTOUCHED_BASE;
    *length_p = UNTOUCHED_LENGTH;
    return rsm_get_segmentid_range(appid, base_p, length_p);
}

/* The file holding text must be refused with RSMERR_BAD_CONF for "app",
 * leaving the outputs alone. */
static void assert_bad_conf(const char *text)
{
    uint32_t base, length;

    segid_file(text);
    assert_int_equal(lookup("app", &base, &length), RSMERR_BAD_CONF);
    assert_int_equal(base, UNTOUCHED_BASE);
    assert_int_equal(length, UNTOUCHED_LENGTH);
    unlink(segid_path);
    segid_path[0] = '\0';
}

static int setup(void **state)
{
    (void)state;
    segid_path[0] = '\0';
    temp_file_create(capture_path, "", 0);
    if ((setenv("UCX_CPG_CONFIG", "", 1) != 0) ||
        (unsetenv("UCX_CPG_RSM_SEGMENTID_FILE") != 0)) {
        return -1;
    }
    return (ucpg_log_configure(UCPG_LOG_WARN, capture_path) == UCPG_OK) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    ucpg_log_close();
    unlink(capture_path);
    if (segid_path[0] != '\0') {
        unlink(segid_path);
    }
    return 0;
}


/* --- finding a reservation ------------------------------------------------ */

static void test_reserved_line_gives_base_and_length(void **state)
{
    uint32_t base, length;

    (void)state;
    segid_file("reserved app 600000 4096\n");
    assert_int_equal(lookup("app", &base, &length), RSM_SUCCESS);
    assert_int_equal(base, 0x600000);
    assert_int_equal(length, 4096);
}

static void test_appid_matches_ignoring_case(void **state)
{
    uint32_t base, length;

    (void)state;
    segid_file("reserved MyApp 600000 16\n");
    assert_int_equal(lookup("myapp", &base, &length), RSM_SUCCESS);
    assert_int_equal(base, 0x600000);
    assert_int_equal(lookup("MYAPP", &base, &length), RSM_SUCCESS);
    assert_int_equal(base, 0x600000);
}

static void test_the_line_of_the_appid_is_chosen_among_several(void **state)
{
    uint32_t base, length;

    (void)state;
    segid_file("reserved first 600000 10\n"
               "reserved second 700000 20\n"
               "reserved third 7ffff000 4096\n");
    assert_int_equal(lookup("second", &base, &length), RSM_SUCCESS);
    assert_int_equal(base, 0x700000);
    assert_int_equal(length, 20);
    assert_int_equal(lookup("third", &base, &length), RSM_SUCCESS);
    assert_int_equal(base, 0x7ffff000);
    assert_int_equal(length, 4096);
}

static void test_first_line_wins_for_an_appid_listed_twice(void **state)
{
    uint32_t base, length;

    (void)state;
    segid_file("reserved app 600000 10\n"
               "reserved APP 700000 20\n");
    assert_int_equal(lookup("app", &base, &length), RSM_SUCCESS);
    assert_int_equal(base, 0x600000);
    assert_int_equal(length, 10);
}

static void test_base_is_hex_with_or_without_0x(void **state)
{
    uint32_t base, length;

    (void)state;
    segid_file("reserved a 0x600000 1\n"
               "reserved b 0XABCDEF 1\n"
               "reserved c abcdef 1\n"
               "reserved d 00000010 1\n");
    assert_int_equal(lookup("a", &base, &length), RSM_SUCCESS);
    assert_int_equal(base, 0x600000);
    assert_int_equal(lookup("b", &base, &length), RSM_SUCCESS);
    assert_int_equal(base, 0xabcdef);
    assert_int_equal(lookup("c", &base, &length), RSM_SUCCESS);
    assert_int_equal(base, 0xabcdef);
    assert_int_equal(lookup("d", &base, &length), RSM_SUCCESS);
    assert_int_equal(base, 0x10);
}

static void test_length_is_decimal(void **state)
{
    uint32_t base, length;

    (void)state;
    segid_file("reserved app 600000 0100\n");
    assert_int_equal(lookup("app", &base, &length), RSM_SUCCESS);
    assert_int_equal(length, 100);
}

static void test_blanks_and_tabs_separate_fields(void **state)
{
    uint32_t base, length;

    (void)state;
    segid_file("  \treserved\t\tapp   600000 \t 8  \t\n");
    assert_int_equal(lookup("app", &base, &length), RSM_SUCCESS);
    assert_int_equal(base, 0x600000);
    assert_int_equal(length, 8);
}

static void test_comment_lines_and_trailing_comments_are_ignored(void **state)
{
    uint32_t base, length;

    (void)state;
    segid_file("# segment ids\n"
               "   # indented comment with reserved x 1 2\n"
               "reserved app 600000 8 # trailing comment\n"
               "reserved other 700000 8#no blank before it\n");
    assert_int_equal(lookup("app", &base, &length), RSM_SUCCESS);
    assert_int_equal(length, 8);
    assert_int_equal(lookup("other", &base, &length), RSM_SUCCESS);
    assert_int_equal(base, 0x700000);
}

static void test_blank_lines_are_tolerated(void **state)
{
    uint32_t base, length;

    (void)state;
    segid_file("\n"
               "reserved first 600000 8\n"
               "\n"
               " \t \n"
               "reserved app 700000 9\n"
               "\n");
    assert_int_equal(lookup("app", &base, &length), RSM_SUCCESS);
    assert_int_equal(base, 0x700000);
    assert_int_equal(length, 9);
}

static void test_last_line_without_newline_is_read(void **state)
{
    uint32_t base, length;

    (void)state;
    segid_file("reserved app 600000 7");
    assert_int_equal(lookup("app", &base, &length), RSM_SUCCESS);
    assert_int_equal(length, 7);
}

static void test_range_whose_end_fits_in_32_bits_is_accepted(void **state)
{
    uint32_t base, length;

    (void)state;
    segid_file("reserved app fffffff0 15\n");
    assert_int_equal(lookup("app", &base, &length), RSM_SUCCESS);
    assert_int_equal(base, 0xfffffff0u);
    assert_int_equal(length, 15);
}

static void test_zero_length_is_accepted(void **state)
{
    uint32_t base, length;

    (void)state;
    segid_file("reserved app 600000 0\n");
    assert_int_equal(lookup("app", &base, &length), RSM_SUCCESS);
    assert_int_equal(length, 0);
}


/* --- RSMERR_BAD_ADDR ------------------------------------------------------- */

static void test_any_null_argument_is_bad_addr(void **state)
{
    uint32_t base = UNTOUCHED_BASE, length = UNTOUCHED_LENGTH;

    (void)state;
    segid_file("reserved app 600000 8\n");
    assert_int_equal(rsm_get_segmentid_range(NULL, &base, &length), RSMERR_BAD_ADDR);
    assert_int_equal(rsm_get_segmentid_range("app", NULL, &length), RSMERR_BAD_ADDR);
    assert_int_equal(rsm_get_segmentid_range("app", &base, NULL), RSMERR_BAD_ADDR);
    assert_int_equal(base, UNTOUCHED_BASE);
    assert_int_equal(length, UNTOUCHED_LENGTH);
}


/* --- RSMERR_BAD_APPID ------------------------------------------------------ */

static void test_unlisted_appid_is_bad_appid(void **state)
{
    uint32_t base, length;

    (void)state;
    segid_file("reserved app 600000 8\n");
    assert_int_equal(lookup("ap", &base, &length), RSMERR_BAD_APPID);
    assert_int_equal(lookup("apps", &base, &length), RSMERR_BAD_APPID);
    assert_int_equal(lookup("", &base, &length), RSMERR_BAD_APPID);
    assert_int_equal(base, UNTOUCHED_BASE);
    assert_int_equal(length, UNTOUCHED_LENGTH);
}

static void test_keyword_is_not_an_appid(void **state)
{
    uint32_t base, length;

    (void)state;
    segid_file("reserved app 600000 8\n");
    assert_int_equal(lookup("reserved", &base, &length), RSMERR_BAD_APPID);
}

static void test_empty_file_is_bad_appid(void **state)
{
    uint32_t base, length;

    (void)state;
    segid_file("");
    assert_int_equal(lookup("app", &base, &length), RSMERR_BAD_APPID);
}

static void test_file_of_comments_only_is_bad_appid(void **state)
{
    uint32_t base, length;

    (void)state;
    segid_file("# reserved app 600000 8\n\n");
    assert_int_equal(lookup("app", &base, &length), RSMERR_BAD_APPID);
}


/* --- RSMERR_BAD_CONF ------------------------------------------------------- */

static void test_missing_file_is_bad_conf(void **state)
{
    uint32_t base, length;

    (void)state;
    assert_int_equal(setenv("UCX_CPG_RSM_SEGMENTID_FILE",
                            "/nonexistent/ucpg/rsm.segmentid", 1), 0);
    assert_int_equal(lookup("app", &base, &length), RSMERR_BAD_CONF);
    assert_int_equal(base, UNTOUCHED_BASE);
    assert_true(captured_log_contains("/nonexistent/ucpg/rsm.segmentid"));
}

static void test_directory_is_bad_conf(void **state)
{
    uint32_t base, length;

    (void)state;
    assert_int_equal(setenv("UCX_CPG_RSM_SEGMENTID_FILE", "/tmp", 1), 0);
    assert_int_equal(lookup("app", &base, &length), RSMERR_BAD_CONF);
}

static void test_relative_file_path_is_bad_conf(void **state)
{
    uint32_t base, length;

    (void)state;
    assert_int_equal(setenv("UCX_CPG_RSM_SEGMENTID_FILE", "rsm.segmentid", 1), 0);
    assert_int_equal(lookup("app", &base, &length), RSMERR_BAD_CONF);
    assert_true(captured_log_contains("UCX_CPG_RSM_SEGMENTID_FILE"));
}

static void test_short_line_is_bad_conf(void **state)
{
    (void)state;
    assert_bad_conf("reserved app 600000\n");
    assert_bad_conf("reserved app\n");
    assert_bad_conf("reserved\n");
    assert_bad_conf("reserved app 600000 # 8\n");
}

static void test_fifth_field_is_bad_conf(void **state)
{
    (void)state;
    assert_bad_conf("reserved app 600000 8 9\n");
}

static void test_keyword_other_than_reserved_is_bad_conf(void **state)
{
    (void)state;
    assert_bad_conf("reserve app 600000 8\n");
    assert_bad_conf("RESERVED app 600000 8\n");
    assert_bad_conf("reservedx app 600000 8\n");
    assert_bad_conf("app 600000 8 9\n");
}

static void test_bad_base_is_bad_conf(void **state)
{
    (void)state;
    assert_bad_conf("reserved app 60000g 8\n");
    assert_bad_conf("reserved app 0x 8\n");
    assert_bad_conf("reserved app -1 8\n");
    assert_bad_conf("reserved app +600000 8\n");
    assert_bad_conf("reserved app 0x0x10 8\n");
    assert_bad_conf("reserved app 100000000 8\n");
}

static void test_bad_length_is_bad_conf(void **state)
{
    (void)state;
    assert_bad_conf("reserved app 600000 12a\n");
    assert_bad_conf("reserved app 600000 0x10\n");
    assert_bad_conf("reserved app 600000 -1\n");
    assert_bad_conf("reserved app 600000 +8\n");
    assert_bad_conf("reserved app 600000 4294967296\n");
    assert_bad_conf("reserved app 600000 99999999999999999999999\n");
}

static void test_range_overflowing_32_bits_is_bad_conf(void **state)
{
    (void)state;
    assert_bad_conf("reserved app fffffff0 16\n");
    assert_bad_conf("reserved app ffffffff 1\n");
    assert_bad_conf("reserved app 1 4294967295\n");
}

static void test_nul_byte_in_line_is_bad_conf(void **state)
{
    static const char text[] = "reserved app\0 600000 8\n";
    uint32_t base, length;

    (void)state;
    temp_file_create(segid_path, text, sizeof(text) - 1);
    assert_int_equal(setenv("UCX_CPG_RSM_SEGMENTID_FILE", segid_path, 1), 0);
    assert_int_equal(lookup("app", &base, &length), RSMERR_BAD_CONF);
}

static void test_bad_line_after_the_match_is_bad_conf(void **state)
{
    (void)state;
    assert_bad_conf("reserved app 600000 8\n"
                    "reserved broken\n");
}

static void test_bad_line_of_another_appid_is_bad_conf(void **state)
{
    (void)state;
    assert_bad_conf("reserved other zzz 8\n"
                    "reserved app 600000 8\n");
}

static void test_bad_conf_log_names_file_and_line(void **state)
{
    char where[sizeof(TEMP_TEMPLATE) + 16];
    uint32_t base, length;

    (void)state;
    segid_file("# header\n"
               "reserved app 600000 8\n"
               "reserve other 700000 8\n");
    assert_int_equal(lookup("app", &base, &length), RSMERR_BAD_CONF);
    snprintf(where, sizeof(where), "%s:3:", segid_path);
    assert_true(captured_log_contains(where));
}


int main(void)
{
#define T(_test) cmocka_unit_test_setup_teardown(_test, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_reserved_line_gives_base_and_length),
        T(test_appid_matches_ignoring_case),
        T(test_the_line_of_the_appid_is_chosen_among_several),
        T(test_first_line_wins_for_an_appid_listed_twice),
        T(test_base_is_hex_with_or_without_0x),
        T(test_length_is_decimal),
        T(test_blanks_and_tabs_separate_fields),
        T(test_comment_lines_and_trailing_comments_are_ignored),
        T(test_blank_lines_are_tolerated),
        T(test_last_line_without_newline_is_read),
        T(test_range_whose_end_fits_in_32_bits_is_accepted),
        T(test_zero_length_is_accepted),
        T(test_any_null_argument_is_bad_addr),
        T(test_unlisted_appid_is_bad_appid),
        T(test_keyword_is_not_an_appid),
        T(test_empty_file_is_bad_appid),
        T(test_file_of_comments_only_is_bad_appid),
        T(test_missing_file_is_bad_conf),
        T(test_directory_is_bad_conf),
        T(test_relative_file_path_is_bad_conf),
        T(test_short_line_is_bad_conf),
        T(test_fifth_field_is_bad_conf),
        T(test_keyword_other_than_reserved_is_bad_conf),
        T(test_bad_base_is_bad_conf),
        T(test_bad_length_is_bad_conf),
        T(test_range_overflowing_32_bits_is_bad_conf),
        T(test_nul_byte_in_line_is_bad_conf),
        T(test_bad_line_after_the_match_is_bad_conf),
        T(test_bad_line_of_another_appid_is_bad_conf),
        T(test_bad_conf_log_names_file_and_line),
    };
#undef T

    return cmocka_run_group_tests(tests, NULL, NULL);
}
