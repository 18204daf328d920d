/*
 * test_config.c - unit tests of core/config (keys, sources, validation) and
 * core/log (levels, line format, destination).
 *
 * Each test checks one property and is named after it. Every test runs with
 * the library log captured in a fresh temporary file (see capture_setup), so
 * tests can check what was reported and the test output stays readable.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "unit_util.h"

#include "core/config.h"
#include "core/log.h"

/* Where docs/ lives; the test is normally run from the source root. */
#ifndef UCPG_TEST_SRCDIR
#define UCPG_TEST_SRCDIR "."
#endif

#define TEMP_TEMPLATE "/tmp/ucpg_test_config_XXXXXX"


/* --- helpers -------------------------------------------------------------- */

/* The file the library log goes to during the current test. */
static char capture_path[sizeof(TEMP_TEMPLATE)];

/* Create a temporary file holding text; its name goes to path (TEMP_TEMPLATE size). */
static void temp_file_create(char *path, const char *text)
{
    strcpy(path, TEMP_TEMPLATE);
    unit_temp_file(path, text, strlen(text));
}

/* Does the captured library log contain needle? */
static int captured_log_contains(const char *needle)
{
    return unit_file_contains(capture_path, needle);
}

static int capture_setup(void **state)
{
    (void)state;
    temp_file_create(capture_path, "");
    return (ucpg_log_configure(UCPG_LOG_WARN, capture_path) == UCPG_OK) ? 0 : -1;
}

static int capture_teardown(void **state)
{
    (void)state;
    ucpg_log_close();
    ucpg_log_level_current = UCPG_LOG_WARN;
    unlink(capture_path);
    return 0;
}

/* Setting key to value must fail with UCPG_ERR_CONFIG and change nothing. */
static void assert_rejected(const char *key, const char *value)
{
    ucpg_config_t cfg, before;

    ucpg_config_defaults(&cfg);
    memcpy(&before, &cfg, sizeof(cfg));
    assert_int_equal(ucpg_config_set(&cfg, key, value, "test"), UCPG_ERR_CONFIG);
    assert_memory_equal(&cfg, &before, sizeof(cfg));
}

static void assert_accepted(const char *key, const char *value)
{
    ucpg_config_t cfg;

    ucpg_config_defaults(&cfg);
    assert_int_equal(ucpg_config_set(&cfg, key, value, "test"), UCPG_OK);
}

/* Reading the file holding text into a default configuration gives status. */
static ucpg_status_t read_text_as_file(ucpg_config_t *cfg, const char *text,
                                       char *path_out)
{
    char path[sizeof(TEMP_TEMPLATE)];
    ucpg_status_t status;

    temp_file_create(path, text);
    status = ucpg_config_read_file(cfg, path, 1);
    if (path_out != NULL) {
        strcpy(path_out, path);
    }
    unlink(path);
    return status;
}

/* ucpg_config_print into a malloc'ed string. */
static char *config_print_to_string(const ucpg_config_t *cfg)
{
    char *text = NULL;
    size_t size = 0;
    FILE *stream = open_memstream(&text, &size);

    assert_non_null(stream);
    ucpg_config_print(cfg, stream);
    fclose(stream);
    return text;
}

/* Non-default values for every key, as environment and as file. */
static char *const all_keys_env[] = {
    "UCX_CPG_DOMAIN=job-7.a_b",
    "UCX_CPG_NODEID=42",
    "UCX_CPG_LOG_LEVEL=debug",
    "UCX_CPG_LOG_FILE=/tmp/ucx_cpg.log",
    "UCX_CPG_BOOT=pmix",
    "UCX_CPG_REGISTRY_DIR=/run/ucx_cpg",
    "UCX_CPG_MAX_PROCS=128",
    "UCX_CPG_PROGRESS_SPIN_US=0",
    "UCX_CPG_PROGRESS_SPIN_YIELD=0",
    "UCX_CPG_CONNECT_TIMEOUT_MS=250",
    "UCX_CPG_KEEPALIVE_MS=60000",
    "UCX_CPG_RSM_SEGMENTID_FILE=/tmp/rsm.segmentid",
    NULL
};

static const char all_keys_file[] =
    "domain = job-7.a_b\n"
    "nodeid = 42\n"
    "log_level = debug\n"
    "log_file = /tmp/ucx_cpg.log\n"
    "boot = pmix\n"
    "registry_dir = /run/ucx_cpg\n"
    "max_procs = 128\n"
    "progress_spin_us = 0\n"
    "progress_spin_yield = 0\n"
    "connect_timeout_ms = 250\n"
    "keepalive_ms = 60000\n"
    "rsm_segmentid_file = /tmp/rsm.segmentid\n";

static void assert_all_keys_non_default(const ucpg_config_t *cfg)
{
    assert_string_equal(cfg->domain, "job-7.a_b");
    assert_int_equal(cfg->nodeid, 42);
    assert_int_equal(cfg->log_level, UCPG_LOG_DEBUG);
    assert_string_equal(cfg->log_file, "/tmp/ucx_cpg.log");
    assert_string_equal(cfg->boot, "pmix");
    assert_string_equal(cfg->registry_dir, "/run/ucx_cpg");
    assert_int_equal(cfg->max_procs, 128);
    assert_int_equal(cfg->progress_spin_us, 0);
    assert_int_equal(cfg->progress_spin_yield, 0);
    assert_int_equal(cfg->connect_timeout_ms, 250);
    assert_int_equal(cfg->keepalive_ms, 60000);
    assert_string_equal(cfg->rsm_segmentid_file, "/tmp/rsm.segmentid");
}


/* --- defaults ------------------------------------------------------------- */

static void test_defaults_are_the_documented_values(void **state)
{
    ucpg_config_t cfg;

    (void)state;
    ucpg_config_defaults(&cfg);
    assert_string_equal(cfg.domain, "default");
    assert_int_equal(cfg.nodeid, ucpg_config_default_nodeid());
    assert_int_equal(cfg.log_level, UCPG_LOG_WARN);
    assert_string_equal(cfg.log_file, "");
    assert_string_equal(cfg.boot, "auto");
    assert_string_equal(cfg.registry_dir, "/dev/shm");
    assert_int_equal(cfg.max_procs, 64);
    assert_int_equal(cfg.progress_spin_us, 20);
    assert_int_equal(cfg.progress_spin_yield, 1);
    assert_int_equal(cfg.connect_timeout_ms, 5000);
    assert_int_equal(cfg.keepalive_ms, 1000);
    assert_string_equal(cfg.rsm_segmentid_file, "/etc/rsm/rsm.segmentid");
    assert_string_equal(cfg.config_file, "");
}

static void test_print_shows_every_key_with_its_origin(void **state)
{
    char *const envp[] = { "UCX_CPG_NODEID=42", NULL };
    ucpg_config_t cfg;
    char *text, *line;
    size_t lines = 0;

    (void)state;
    ucpg_config_defaults(&cfg);
    assert_int_equal(ucpg_config_read_env(&cfg, envp), UCPG_OK);
    text = config_print_to_string(&cfg);

    assert_non_null(strstr(text, "UCX_CPG_NODEID = 42   (environment)\n"));
    assert_non_null(strstr(text, "UCX_CPG_MAX_PROCS = 64   (default)\n"));
    assert_non_null(strstr(text, "UCX_CPG_LOG_LEVEL = warn   (default)\n"));
    assert_non_null(strstr(text, "UCX_CPG_LOG_FILE = \"\"   (default)\n"));
    for (line = text; (line = strchr(line, '\n')) != NULL; ++line) {
        ++lines;
    }
    assert_int_equal(lines, ucpg_config_num_keys());
    free(text);
}


/* --- every key from each source ------------------------------------------- */

static void test_every_key_is_set_from_environment(void **state)
{
    ucpg_config_t cfg;

    (void)state;
    ucpg_config_defaults(&cfg);
    assert_int_equal(ucpg_config_read_env(&cfg, all_keys_env), UCPG_OK);
    assert_all_keys_non_default(&cfg);
}

static void test_every_key_is_set_from_file(void **state)
{
    char path[sizeof(TEMP_TEMPLATE)];
    char origin[sizeof(TEMP_TEMPLATE) + 32];
    ucpg_config_t cfg;
    char *text;

    (void)state;
    ucpg_config_defaults(&cfg);
    assert_int_equal(read_text_as_file(&cfg, all_keys_file, path), UCPG_OK);
    assert_all_keys_non_default(&cfg);

    /* The origin of a file value is path:line. */
    text = config_print_to_string(&cfg);
    snprintf(origin, sizeof(origin), "UCX_CPG_MAX_PROCS = 128   (%s:7)", path);
    assert_non_null(strstr(text, origin));
    free(text);
}

static void test_key_is_accepted_by_file_name_and_env_name(void **state)
{
    ucpg_config_t cfg;

    (void)state;
    ucpg_config_defaults(&cfg);
    assert_int_equal(ucpg_config_set(&cfg, "max_procs", "10", "test"), UCPG_OK);
    assert_int_equal(cfg.max_procs, 10);
    assert_int_equal(ucpg_config_set(&cfg, "UCX_CPG_MAX_PROCS", "11", "test"), UCPG_OK);
    assert_int_equal(cfg.max_procs, 11);
}

static void test_environment_beats_file(void **state)
{
    char *const envp[] = { "UCX_CPG_MAX_PROCS=100", NULL };
    ucpg_config_t cfg;

    (void)state;
    ucpg_config_defaults(&cfg);
    assert_int_equal(read_text_as_file(&cfg, "max_procs = 8\nnodeid = 9\n", NULL),
                     UCPG_OK);
    assert_int_equal(ucpg_config_read_env(&cfg, envp), UCPG_OK);
    assert_int_equal(cfg.max_procs, 100);
    assert_int_equal(cfg.nodeid, 9);     /* not in the environment: file stays */
}


/* --- accepted value forms ------------------------------------------------- */

static void test_nodeid_accepts_decimal_and_hex(void **state)
{
    ucpg_config_t cfg;

    (void)state;
    ucpg_config_defaults(&cfg);
    assert_int_equal(ucpg_config_set(&cfg, "nodeid", "0x7fffffff", "test"), UCPG_OK);
    assert_int_equal(cfg.nodeid, 2147483647u);
    assert_int_equal(ucpg_config_set(&cfg, "nodeid", "0XaB", "test"), UCPG_OK);
    assert_int_equal(cfg.nodeid, 0xab);
    assert_int_equal(ucpg_config_set(&cfg, "nodeid", "1", "test"), UCPG_OK);
    assert_int_equal(cfg.nodeid, 1);
}

static void test_range_limits_are_inclusive(void **state)
{
    (void)state;
    assert_accepted("max_procs", "2");
    assert_accepted("max_procs", "1024");
    assert_accepted("progress_spin_us", "0");
    assert_accepted("progress_spin_us", "1000000");
    assert_accepted("progress_spin_yield", "0");
    assert_accepted("progress_spin_yield", "1");
    assert_accepted("connect_timeout_ms", "100");
    assert_accepted("connect_timeout_ms", "600000");
    assert_accepted("keepalive_ms", "100");
    assert_accepted("keepalive_ms", "60000");
    assert_accepted("nodeid", "2147483647");
}

static void test_boot_is_case_insensitive_and_stored_canonical(void **state)
{
    ucpg_config_t cfg;

    (void)state;
    ucpg_config_defaults(&cfg);
    assert_int_equal(ucpg_config_set(&cfg, "boot", "LOCAL", "test"), UCPG_OK);
    assert_string_equal(cfg.boot, "local");
}

static void test_log_level_key_is_case_insensitive(void **state)
{
    ucpg_config_t cfg;

    (void)state;
    ucpg_config_defaults(&cfg);
    assert_int_equal(ucpg_config_set(&cfg, "log_level", "TRACE", "test"), UCPG_OK);
    assert_int_equal(cfg.log_level, UCPG_LOG_TRACE);
}

static void test_longest_domain_is_accepted(void **state)
{
    char name[64];

    (void)state;
    memset(name, 'd', 63);
    name[63] = '\0';
    assert_accepted("domain", name);
}

static void test_empty_log_file_means_stderr_and_is_accepted(void **state)
{
    ucpg_config_t cfg;

    (void)state;
    ucpg_config_defaults(&cfg);
    assert_int_equal(ucpg_config_set(&cfg, "log_file", "/tmp/x.log", "test"), UCPG_OK);
    assert_int_equal(ucpg_config_set(&cfg, "log_file", "", "test"), UCPG_OK);
    assert_string_equal(cfg.log_file, "");
}

/* The relay path: absolute or empty (empty refuses forked processes' handles);
 * the default is where the build installs it. */
static void test_relay_is_absolute_or_empty(void **state)
{
    ucpg_config_t cfg;

    (void)state;
    ucpg_config_defaults(&cfg);
    assert_string_equal(cfg.relay, UCPG_RELAY_PATH);
    assert_true(cfg.relay[0] == '/');
    assert_accepted("relay", "");
    assert_accepted("relay", "/opt/ucx_cpg/libexec/ucx_cpg_relay");
    assert_rejected("relay", "ucx_cpg_relay");
    assert_rejected("relay", "./ucx_cpg_relay");
    assert_rejected("rsm_segmentid_file", "");          /* others stay non-empty */
}


/* --- rejected values: each class leaves the configuration unchanged ------- */

static void test_non_number_is_rejected(void **state)
{
    (void)state;
    assert_rejected("max_procs", "abc");
    assert_rejected("max_procs", "12abc");
    assert_rejected("max_procs", "1.5");
    assert_rejected("max_procs", "");
    assert_rejected("max_procs", " 12");
    assert_rejected("max_procs", "12 ");
    assert_rejected("nodeid", "0x");
    assert_rejected("nodeid", "0x0x5");
    assert_rejected("nodeid", "0xg");
}

static void test_negative_number_is_rejected(void **state)
{
    (void)state;
    /* strtoul would turn "-1" into ULONG_MAX: the classic trap. */
    assert_rejected("max_procs", "-1");
    assert_rejected("progress_spin_us", "-0");
    assert_rejected("nodeid", "-42");
}

static void test_signed_positive_number_is_rejected(void **state)
{
    (void)state;
    assert_rejected("max_procs", "+10");
}

static void test_overflowing_number_is_rejected(void **state)
{
    (void)state;
    assert_rejected("max_procs", "99999999999999999999999999");
    assert_rejected("nodeid", "0xffffffffffffffffffff");
    assert_rejected("nodeid", "4294967338");   /* 42 + 2^32: no silent wrap */
}

static void test_value_below_range_is_rejected(void **state)
{
    (void)state;
    assert_rejected("nodeid", "0");
    assert_rejected("max_procs", "1");
    assert_rejected("connect_timeout_ms", "99");
    assert_rejected("keepalive_ms", "99");
}

static void test_value_above_range_is_rejected(void **state)
{
    (void)state;
    assert_rejected("nodeid", "2147483648");
    assert_rejected("max_procs", "1025");
    assert_rejected("progress_spin_us", "1000001");
    assert_rejected("progress_spin_yield", "2");
    assert_rejected("connect_timeout_ms", "600001");
    assert_rejected("keepalive_ms", "60001");
}

static void test_domain_with_bad_characters_is_rejected(void **state)
{
    (void)state;
    assert_rejected("domain", "a b");
    assert_rejected("domain", "a/b");
    assert_rejected("domain", "a:b");
    assert_rejected("domain", "caf\xc3\xa9");
    assert_rejected("domain", "tab\there");
}

static void test_empty_domain_is_rejected(void **state)
{
    (void)state;
    assert_rejected("domain", "");
}

static void test_too_long_domain_is_rejected(void **state)
{
    char name[65];

    (void)state;
    memset(name, 'd', 64);
    name[64] = '\0';
    assert_rejected("domain", name);
}

static void test_relative_registry_dir_is_rejected(void **state)
{
    (void)state;
    assert_rejected("registry_dir", "dev/shm");
    assert_rejected("registry_dir", "./shm");
    assert_rejected("registry_dir", "");
}

static void test_too_long_path_is_rejected(void **state)
{
    char path[UCPG_CONFIG_PATH_MAX + 1];

    (void)state;
    memset(path, 'p', sizeof(path) - 1);
    path[0] = '/';
    path[sizeof(path) - 1] = '\0';
    assert_rejected("registry_dir", path);
    assert_rejected("log_file", path);
}

static void test_unknown_boot_is_rejected(void **state)
{
    (void)state;
    assert_rejected("boot", "slurm");
    assert_rejected("boot", "");
    assert_rejected("boot", "local ");
}

static void test_unknown_log_level_is_rejected(void **state)
{
    (void)state;
    assert_rejected("log_level", "verbose");
    assert_rejected("log_level", "3");
    assert_rejected("log_level", "");
}

static void test_unknown_key_is_rejected(void **state)
{
    ucpg_config_t cfg, before;

    (void)state;
    ucpg_config_defaults(&cfg);
    memcpy(&before, &cfg, sizeof(cfg));
    assert_int_equal(ucpg_config_set(&cfg, "max_proc", "8", "test"), UCPG_ERR_CONFIG);
    assert_int_equal(ucpg_config_set(&cfg, "MAX_PROCS", "8", "test"), UCPG_ERR_CONFIG);
    assert_int_equal(ucpg_config_set(&cfg, "UCX_CPG_CONFIG", "/x", "test"),
                     UCPG_ERR_CONFIG);
    assert_memory_equal(&cfg, &before, sizeof(cfg));
    assert_true(captured_log_contains("max_proc"));
}

static void test_bad_value_message_names_key_origin_value_and_range(void **state)
{
    ucpg_config_t cfg;

    (void)state;
    ucpg_config_defaults(&cfg);
    assert_int_equal(ucpg_config_set(&cfg, "max_procs", "5000", "somewhere:3"),
                     UCPG_ERR_CONFIG);
    assert_true(captured_log_contains("UCX_CPG_MAX_PROCS"));
    assert_true(captured_log_contains("somewhere:3"));
    assert_true(captured_log_contains("\"5000\""));
    assert_true(captured_log_contains("2..1024"));
}


/* --- configuration file --------------------------------------------------- */

static void test_file_comments_quotes_and_whitespace_are_handled(void **state)
{
    static const char text[] =
        "# a comment line\n"
        "\n"
        "   \t \n"
        "  # an indented comment = with an equals sign\n"
        "\tdomain\t=\tspaced   \r\n"
        "max_procs=8# trailing comment right after the value\n"
        "boot = \"pmix\"   # quoted, then a comment\n"
        "log_file = \"/tmp/a b#c.log\"\n"
        "registry_dir =    /run/x   # comment\n";
    ucpg_config_t cfg;

    (void)state;
    ucpg_config_defaults(&cfg);
    assert_int_equal(read_text_as_file(&cfg, text, NULL), UCPG_OK);
    assert_string_equal(cfg.domain, "spaced");
    assert_int_equal(cfg.max_procs, 8);
    assert_string_equal(cfg.boot, "pmix");
    assert_string_equal(cfg.log_file, "/tmp/a b#c.log");
    assert_string_equal(cfg.registry_dir, "/run/x");
}

static void test_file_empty_quoted_value_sets_empty_string(void **state)
{
    ucpg_config_t cfg;

    (void)state;
    ucpg_config_defaults(&cfg);
    assert_int_equal(ucpg_config_set(&cfg, "log_file", "/tmp/x", "test"), UCPG_OK);
    assert_int_equal(read_text_as_file(&cfg, "log_file = \"\"\n", NULL), UCPG_OK);
    assert_string_equal(cfg.log_file, "");
}

static void test_file_last_line_without_newline_is_read(void **state)
{
    ucpg_config_t cfg;

    (void)state;
    ucpg_config_defaults(&cfg);
    assert_int_equal(read_text_as_file(&cfg, "max_procs = 9", NULL), UCPG_OK);
    assert_int_equal(cfg.max_procs, 9);
}

static void test_file_later_line_wins(void **state)
{
    ucpg_config_t cfg;

    (void)state;
    ucpg_config_defaults(&cfg);
    assert_int_equal(read_text_as_file(&cfg, "max_procs = 9\nmax_procs = 10\n", NULL),
                     UCPG_OK);
    assert_int_equal(cfg.max_procs, 10);
}

static void test_file_records_its_name(void **state)
{
    char path[sizeof(TEMP_TEMPLATE)];
    ucpg_config_t cfg;

    (void)state;
    ucpg_config_defaults(&cfg);
    assert_int_equal(read_text_as_file(&cfg, "# nothing\n", path), UCPG_OK);
    assert_string_equal(cfg.config_file, path);
}

static void test_file_unknown_key_is_error_naming_path_and_line(void **state)
{
    char path[sizeof(TEMP_TEMPLATE)];
    char where[sizeof(TEMP_TEMPLATE) + 8];
    ucpg_config_t cfg, before;

    (void)state;
    ucpg_config_defaults(&cfg);
    memcpy(&before, &cfg, sizeof(cfg));
    assert_int_equal(read_text_as_file(&cfg, "max_procs = 8\nmax_prcs = 9\n", path),
                     UCPG_ERR_CONFIG);
    assert_memory_equal(&cfg, &before, sizeof(cfg));
    snprintf(where, sizeof(where), "%s:2", path);
    assert_true(captured_log_contains(where));
    assert_true(captured_log_contains("max_prcs"));
}

static void test_file_line_without_equals_is_syntax_error(void **state)
{
    char path[sizeof(TEMP_TEMPLATE)];
    char where[sizeof(TEMP_TEMPLATE) + 8];
    ucpg_config_t cfg, before;

    (void)state;
    ucpg_config_defaults(&cfg);
    memcpy(&before, &cfg, sizeof(cfg));
    assert_int_equal(read_text_as_file(&cfg, "# ok\nmax_procs 8\n", path),
                     UCPG_ERR_CONFIG);
    assert_memory_equal(&cfg, &before, sizeof(cfg));
    snprintf(where, sizeof(where), "%s:2", path);
    assert_true(captured_log_contains(where));
}

static void test_file_equals_only_inside_comment_is_syntax_error(void **state)
{
    ucpg_config_t cfg;

    (void)state;
    ucpg_config_defaults(&cfg);
    assert_int_equal(read_text_as_file(&cfg, "max_procs # = 8\n", NULL),
                     UCPG_ERR_CONFIG);
}

static void test_file_missing_key_is_syntax_error(void **state)
{
    ucpg_config_t cfg;

    (void)state;
    ucpg_config_defaults(&cfg);
    assert_int_equal(read_text_as_file(&cfg, "  = 8\n", NULL), UCPG_ERR_CONFIG);
}

static void test_file_unterminated_quote_is_syntax_error(void **state)
{
    ucpg_config_t cfg;

    (void)state;
    ucpg_config_defaults(&cfg);
    assert_int_equal(read_text_as_file(&cfg, "log_file = \"/tmp/x\n", NULL),
                     UCPG_ERR_CONFIG);
}

static void test_file_text_after_closing_quote_is_syntax_error(void **state)
{
    ucpg_config_t cfg;

    (void)state;
    ucpg_config_defaults(&cfg);
    assert_int_equal(read_text_as_file(&cfg, "log_file = \"/tmp/x\" y\n", NULL),
                     UCPG_ERR_CONFIG);
}

static void test_file_bad_value_leaves_config_unchanged(void **state)
{
    ucpg_config_t cfg, before;

    (void)state;
    ucpg_config_defaults(&cfg);
    memcpy(&before, &cfg, sizeof(cfg));
    /* The good first line must not be applied either: all lines or none. */
    assert_int_equal(read_text_as_file(&cfg, "nodeid = 5\nmax_procs = 1\n", NULL),
                     UCPG_ERR_CONFIG);
    assert_memory_equal(&cfg, &before, sizeof(cfg));
}

static void test_file_reports_every_bad_line(void **state)
{
    char path[sizeof(TEMP_TEMPLATE)];
    char where[sizeof(TEMP_TEMPLATE) + 8];
    ucpg_config_t cfg;

    (void)state;
    ucpg_config_defaults(&cfg);
    assert_int_equal(read_text_as_file(&cfg, "max_procs = 1\nboot = x\n", path),
                     UCPG_ERR_CONFIG);
    snprintf(where, sizeof(where), "%s:1", path);
    assert_true(captured_log_contains(where));
    snprintf(where, sizeof(where), "%s:2", path);
    assert_true(captured_log_contains(where));
}

static void test_missing_optional_file_is_ok(void **state)
{
    ucpg_config_t cfg, before;

    (void)state;
    ucpg_config_defaults(&cfg);
    memcpy(&before, &cfg, sizeof(cfg));
    assert_int_equal(ucpg_config_read_file(&cfg, "/nonexistent/ucx_cpg.conf", 0),
                     UCPG_OK);
    assert_memory_equal(&cfg, &before, sizeof(cfg));
}

static void test_missing_required_file_is_error(void **state)
{
    ucpg_config_t cfg;

    (void)state;
    ucpg_config_defaults(&cfg);
    assert_int_equal(ucpg_config_read_file(&cfg, "/nonexistent/ucx_cpg.conf", 1),
                     UCPG_ERR_CONFIG);
    assert_true(captured_log_contains("/nonexistent/ucx_cpg.conf"));
}

static void test_directory_as_file_is_error(void **state)
{
    ucpg_config_t cfg;

    (void)state;
    ucpg_config_defaults(&cfg);
    assert_int_equal(ucpg_config_read_file(&cfg, "/tmp", 0), UCPG_ERR_CONFIG);
}


/* --- environment ---------------------------------------------------------- */

static void test_env_unknown_ucx_cpg_variable_is_warned_not_error(void **state)
{
    char *const envp[] = { "UCX_CPG_MAX_PROC=8", NULL };
    ucpg_config_t cfg, before;

    (void)state;
    ucpg_config_defaults(&cfg);
    memcpy(&before, &cfg, sizeof(cfg));
    assert_int_equal(ucpg_config_read_env(&cfg, envp), UCPG_OK);
    assert_memory_equal(&cfg, &before, sizeof(cfg));
    assert_true(captured_log_contains("UCX_CPG_MAX_PROC "));
}

static void test_env_config_file_variable_is_not_a_key(void **state)
{
    char *const envp[] = { "UCX_CPG_CONFIG=/nonexistent", NULL };
    ucpg_config_t cfg, before;

    (void)state;
    ucpg_config_defaults(&cfg);
    memcpy(&before, &cfg, sizeof(cfg));
    assert_int_equal(ucpg_config_read_env(&cfg, envp), UCPG_OK);
    assert_memory_equal(&cfg, &before, sizeof(cfg));
    assert_false(captured_log_contains("UCX_CPG_CONFIG"));
}

static void test_env_other_variables_are_ignored(void **state)
{
    char *const envp[] = {
        "PATH=/bin", "UCX_TLS=rc", "ucx_cpg_nodeid=5", "UCX_CPG_NODEID", "max_procs=5",
        NULL
    };
    ucpg_config_t cfg, before;

    (void)state;
    ucpg_config_defaults(&cfg);
    memcpy(&before, &cfg, sizeof(cfg));
    assert_int_equal(ucpg_config_read_env(&cfg, envp), UCPG_OK);
    assert_memory_equal(&cfg, &before, sizeof(cfg));
}

static void test_env_file_key_name_is_not_an_env_name(void **state)
{
    /* Only UCX_CPG_* names come from the environment. */
    char *const envp[] = { "nodeid=5", NULL };
    ucpg_config_t cfg;

    (void)state;
    ucpg_config_defaults(&cfg);
    assert_int_equal(ucpg_config_read_env(&cfg, envp), UCPG_OK);
    assert_int_equal(cfg.nodeid, ucpg_config_default_nodeid());
}

static void test_env_bad_value_leaves_config_unchanged(void **state)
{
    char *const envp[] = { "UCX_CPG_NODEID=5", "UCX_CPG_MAX_PROCS=lots", NULL };
    ucpg_config_t cfg, before;

    (void)state;
    ucpg_config_defaults(&cfg);
    memcpy(&before, &cfg, sizeof(cfg));
    assert_int_equal(ucpg_config_read_env(&cfg, envp), UCPG_ERR_CONFIG);
    assert_memory_equal(&cfg, &before, sizeof(cfg));
    assert_true(captured_log_contains("environment"));
}


/* --- ucpg_config_load ----------------------------------------------------- */

static void test_load_reads_file_named_by_ucx_cpg_config(void **state)
{
    char path[sizeof(TEMP_TEMPLATE)];
    ucpg_config_t cfg;

    (void)state;
    temp_file_create(path, "connect_timeout_ms = 777\n");
    assert_int_equal(setenv("UCX_CPG_CONFIG", path, 1), 0);
    assert_int_equal(unsetenv("UCX_CPG_CONNECT_TIMEOUT_MS"), 0);

    assert_int_equal(ucpg_config_load(&cfg), UCPG_OK);
    assert_int_equal(cfg.connect_timeout_ms, 777);
    assert_string_equal(cfg.config_file, path);

    unsetenv("UCX_CPG_CONFIG");
    unlink(path);
}

static void test_load_environment_beats_file(void **state)
{
    char path[sizeof(TEMP_TEMPLATE)];
    ucpg_config_t cfg;

    (void)state;
    temp_file_create(path, "connect_timeout_ms = 777\n");
    assert_int_equal(setenv("UCX_CPG_CONFIG", path, 1), 0);
    assert_int_equal(setenv("UCX_CPG_CONNECT_TIMEOUT_MS", "888", 1), 0);

    assert_int_equal(ucpg_config_load(&cfg), UCPG_OK);
    assert_int_equal(cfg.connect_timeout_ms, 888);

    unsetenv("UCX_CPG_CONNECT_TIMEOUT_MS");
    unsetenv("UCX_CPG_CONFIG");
    unlink(path);
}

static void test_load_fails_if_named_file_is_missing(void **state)
{
    ucpg_config_t cfg, before;

    (void)state;
    memset(&cfg, 0x5a, sizeof(cfg));
    memcpy(&before, &cfg, sizeof(cfg));
    assert_int_equal(setenv("UCX_CPG_CONFIG", "/nonexistent/ucx_cpg.conf", 1), 0);
    assert_int_equal(ucpg_config_load(&cfg), UCPG_ERR_CONFIG);
    assert_memory_equal(&cfg, &before, sizeof(cfg));
    unsetenv("UCX_CPG_CONFIG");
}

static void test_load_fails_on_bad_environment_value(void **state)
{
    ucpg_config_t cfg;

    (void)state;
    assert_int_equal(setenv("UCX_CPG_CONFIG", "", 1), 0);
    assert_int_equal(setenv("UCX_CPG_BOOT", "carrier-pigeon", 1), 0);
    assert_int_equal(ucpg_config_load(&cfg), UCPG_ERR_CONFIG);
    unsetenv("UCX_CPG_BOOT");
    unsetenv("UCX_CPG_CONFIG");
}


/* --- default node id ------------------------------------------------------ */

static void test_default_nodeid_is_stable_nonzero_and_31_bits(void **state)
{
    uint32_t nodeid = ucpg_config_default_nodeid();

    (void)state;
    assert_int_not_equal(nodeid, 0);
    assert_true(nodeid <= 0x7fffffffu);
    assert_int_equal(ucpg_config_default_nodeid(), nodeid);
}

static void test_default_nodeid_is_the_same_in_another_process(void **state)
{
    uint32_t mine = ucpg_config_default_nodeid(), child = 0;
    int fds[2], wstatus;
    pid_t pid;

    (void)state;
    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        uint32_t nodeid = ucpg_config_default_nodeid();
        _exit((write(fds[1], &nodeid, sizeof(nodeid)) == sizeof(nodeid)) ? 0 : 1);
    }
    close(fds[1]);
    assert_int_equal(read(fds[0], &child, sizeof(child)), sizeof(child));
    close(fds[0]);
    assert_int_equal(waitpid(pid, &wstatus, 0), pid);
    assert_true(WIFEXITED(wstatus) && (WEXITSTATUS(wstatus) == 0));
    assert_int_equal(child, mine);
}

static void test_default_nodeid_is_fnv1a_of_machine_id(void **state)
{
    uint32_t hash = 2166136261u;
    char id[256];
    FILE *file;
    char *p;

    (void)state;
    file = fopen("/etc/machine-id", "r");
    if ((file == NULL) || (fgets(id, sizeof(id), file) == NULL) || (id[0] == '\n')) {
        if (file != NULL) {
            fclose(file);
        }
        print_message("skipped: this host has no /etc/machine-id to hash\n");
        skip();
    }
    fclose(file);
    id[strcspn(id, "\n")] = '\0';

    for (p = id; *p != '\0'; ++p) {
        hash = (hash ^ (unsigned char)*p) * 16777619u;
    }
    hash &= 0x7fffffffu;
    assert_int_equal(ucpg_config_default_nodeid(), (hash != 0) ? hash : 1);
}


/* --- key table ------------------------------------------------------------ */

static void test_key_info_iterates_all_keys(void **state)
{
    const char *key, *env, *def, *doc, *valid;
    char expected_env[64];
    size_t i, j;

    (void)state;
    assert_int_equal(ucpg_config_num_keys(), 24);

    for (i = 0; i < ucpg_config_num_keys(); ++i) {
        assert_int_equal(ucpg_config_key_info(i, &key, &env, &def, &doc), UCPG_OK);
        assert_int_equal(ucpg_config_key_valid(i, &valid), UCPG_OK);
        assert_non_null(def);
        assert_true(strlen(doc) > 10);
        assert_true(strlen(valid) > 0);

        /* The environment name is UCX_CPG_ + the key in upper case. */
        snprintf(expected_env, sizeof(expected_env), "UCX_CPG_%s", key);
        for (j = 0; expected_env[j] != '\0'; ++j) {
            if ((expected_env[j] >= 'a') && (expected_env[j] <= 'z')) {
                expected_env[j] = (char)(expected_env[j] - 'a' + 'A');
            }
        }
        assert_string_equal(env, expected_env);

        /* Every documented default except the host-derived node id parses. */
        if (strcmp(key, "nodeid") != 0) {
            assert_accepted(key, def);
        }
    }

    assert_int_equal(ucpg_config_key_info(i, &key, NULL, NULL, NULL),
                     UCPG_ERR_INVALID_PARAM);
    assert_int_equal(ucpg_config_key_valid(i, &valid), UCPG_ERR_INVALID_PARAM);
}

static void test_docs_list_every_key(void **state)
{
    const char *path = UCPG_TEST_SRCDIR "/docs/configuration.md";
    const char *key, *env;
    char cell[80];
    char *text;
    size_t i;

    (void)state;
    if (access(path, R_OK) != 0) {
        fail_msg("%s is missing: every key must be documented there", path);
    }
    text = unit_file_read_all(path);
    for (i = 0; i < ucpg_config_num_keys(); ++i) {
        assert_int_equal(ucpg_config_key_info(i, &key, &env, NULL, NULL), UCPG_OK);
        snprintf(cell, sizeof(cell), "`%s`", key);
        assert_non_null(strstr(text, cell));
        snprintf(cell, sizeof(cell), "`%s`", env);
        assert_non_null(strstr(text, cell));
    }
    free(text);
}


/* --- log levels ----------------------------------------------------------- */

static void test_log_level_parse_accepts_every_name_in_any_case(void **state)
{
    static const struct {
        const char       *text;
        ucpg_log_level_t  level;
    } cases[] = {
        { "error", UCPG_LOG_ERROR }, { "WARN", UCPG_LOG_WARN },
        { "Info", UCPG_LOG_INFO },   { "debug", UCPG_LOG_DEBUG },
        { "tRaCe", UCPG_LOG_TRACE }
    };
    ucpg_log_level_t level;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i) {
        assert_int_equal(ucpg_log_level_parse(cases[i].text, &level), UCPG_OK);
        assert_int_equal(level, cases[i].level);
    }
}

static void test_log_level_parse_rejects_unknown_and_keeps_output(void **state)
{
    ucpg_log_level_t level = UCPG_LOG_INFO;

    (void)state;
    assert_int_equal(ucpg_log_level_parse("warning", &level), UCPG_ERR_INVALID_PARAM);
    assert_int_equal(ucpg_log_level_parse("", &level), UCPG_ERR_INVALID_PARAM);
    assert_int_equal(ucpg_log_level_parse(" warn", &level), UCPG_ERR_INVALID_PARAM);
    assert_int_equal(ucpg_log_level_parse(NULL, &level), UCPG_ERR_INVALID_PARAM);
    assert_int_equal(level, UCPG_LOG_INFO);
}

static void test_log_level_name_round_trips_through_parse(void **state)
{
    ucpg_log_level_t level, parsed;

    (void)state;
    for (level = UCPG_LOG_ERROR; level <= UCPG_LOG_TRACE; ++level) {
        assert_int_equal(ucpg_log_level_parse(ucpg_log_level_name(level), &parsed),
                         UCPG_OK);
        assert_int_equal(parsed, level);
    }
    assert_string_equal(ucpg_log_level_name((ucpg_log_level_t)99), "unknown");
}


/* --- log output ----------------------------------------------------------- */

/* Does every line of text match the extended regular expression pattern? */
static size_t count_matching_lines(const char *text, const char *pattern)
{
    regex_t re;
    size_t matched = 0;
    const char *line, *end;
    char buf[UCPG_LOG_LINE_MAX + 1];

    assert_int_equal(regcomp(&re, pattern, REG_EXTENDED | REG_NOSUB), 0);
    for (line = text; *line != '\0'; line = end + 1) {
        end = strchr(line, '\n');
        assert_non_null(end);                    /* every line is terminated */
        assert_true((size_t)(end - line) < sizeof(buf));
        memcpy(buf, line, (size_t)(end - line));
        buf[end - line] = '\0';
        if (regexec(&re, buf, 0, NULL, 0) == 0) {
            ++matched;
        }
    }
    regfree(&re);
    return matched;
}

#define LOG_PREFIX_RE \
    "^\\[ucx_cpg [0-9]+\\.[0-9]+ [0-2][0-9]:[0-5][0-9]:[0-6][0-9]\\.[0-9]{6}\\] "

static void test_log_line_has_documented_format(void **state)
{
    char path[sizeof(TEMP_TEMPLATE)];
    char pattern[256];
    char *text;

    (void)state;
    temp_file_create(path, "");
    assert_int_equal(ucpg_log_configure(UCPG_LOG_INFO, path), UCPG_OK);
    ucpg_info("hello %d", 42);
    ucpg_warn("second line ends in a newline\n");
    ucpg_log_close();

    text = unit_file_read_all(path);
    snprintf(pattern, sizeof(pattern),
             LOG_PREFIX_RE "INFO  test_config\\.c:[0-9]+ hello 42$");
    assert_int_equal(count_matching_lines(text, pattern), 1);
    snprintf(pattern, sizeof(pattern),
             LOG_PREFIX_RE "WARN  test_config\\.c:[0-9]+ second line ends in a newline$");
    assert_int_equal(count_matching_lines(text, pattern), 1);
    assert_int_equal(count_matching_lines(text, "."), 2);   /* no empty line added */
    free(text);
    unlink(path);
}

static void test_log_below_threshold_is_not_written(void **state)
{
    char path[sizeof(TEMP_TEMPLATE)];
    int evaluated = 0;
    char *text;

    (void)state;
    temp_file_create(path, "");
    assert_int_equal(ucpg_log_configure(UCPG_LOG_INFO, path), UCPG_OK);
    ucpg_debug("debug line %d", ++evaluated);
    ucpg_trace("trace line");
    ucpg_error("error line");
    ucpg_log_close();

    text = unit_file_read_all(path);
    assert_null(strstr(text, "debug line"));
    assert_null(strstr(text, "trace line"));
    assert_non_null(strstr(text, "ERROR test_config.c:"));
    assert_int_equal(evaluated, 0);     /* arguments of dropped lines not evaluated */
    free(text);
    unlink(path);
}

static void test_log_file_is_created_with_mode_0600(void **state)
{
    char path[sizeof(TEMP_TEMPLATE)];
    struct stat st;

    (void)state;
    temp_file_create(path, "");
    unlink(path);                                   /* let configure create it */
    assert_int_equal(ucpg_log_configure(UCPG_LOG_WARN, path), UCPG_OK);
    ucpg_log_close();
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    unlink(path);
}

static void test_log_file_is_appended_not_truncated(void **state)
{
    char path[sizeof(TEMP_TEMPLATE)];
    char *text;

    (void)state;
    temp_file_create(path, "earlier content\n");
    assert_int_equal(ucpg_log_configure(UCPG_LOG_WARN, path), UCPG_OK);
    ucpg_warn("later");
    ucpg_log_close();
    text = unit_file_read_all(path);
    assert_memory_equal(text, "earlier content\n", 16);
    assert_non_null(strstr(text, "later\n"));
    free(text);
    unlink(path);
}

static void test_log_configure_unopenable_file_is_io_error_keeping_old(void **state)
{
    (void)state;
    assert_int_equal(ucpg_log_configure(UCPG_LOG_TRACE, "/nonexistent/dir/x.log"),
                     UCPG_ERR_IO);
    assert_int_equal(ucpg_log_level_current, UCPG_LOG_WARN);
    ucpg_warn("still captured");
    assert_true(captured_log_contains("still captured"));
}

static void test_log_configure_rejects_invalid_level(void **state)
{
    (void)state;
    assert_int_equal(ucpg_log_configure((ucpg_log_level_t)17, NULL),
                     UCPG_ERR_INVALID_PARAM);
    assert_int_equal(ucpg_log_level_current, UCPG_LOG_WARN);
}

static void test_log_long_message_is_cut_to_one_line(void **state)
{
    char path[sizeof(TEMP_TEMPLATE)];
    char *big, *text;
    size_t len;

    (void)state;
    big = malloc(3 * UCPG_LOG_LINE_MAX);
    assert_non_null(big);
    memset(big, 'x', 3 * UCPG_LOG_LINE_MAX - 1);
    big[3 * UCPG_LOG_LINE_MAX - 1] = '\0';

    temp_file_create(path, "");
    assert_int_equal(ucpg_log_configure(UCPG_LOG_WARN, path), UCPG_OK);
    ucpg_warn("%s", big);
    ucpg_log_close();

    text = unit_file_read_all(path);
    len  = strlen(text);
    assert_true(len <= UCPG_LOG_LINE_MAX);
    assert_memory_equal(text + len - 4, "...\n", 4);
    assert_ptr_equal(strchr(text, '\n'), text + len - 1);
    free(text);
    free(big);
    unlink(path);
}

static void test_log_keeps_errno(void **state)
{
    (void)state;
    errno = EAGAIN;
    ucpg_warn("a line");
    assert_int_equal(errno, EAGAIN);
}

#define LOG_THREADS          4
#define LOG_LINES_PER_THREAD 500
#define LOG_PAYLOAD          300

static void *log_thread(void *arg)
{
    char payload[LOG_PAYLOAD + 1];
    int i;

    memset(payload, (char)('a' + (int)(intptr_t)arg), LOG_PAYLOAD);
    payload[LOG_PAYLOAD] = '\0';
    for (i = 0; i < LOG_LINES_PER_THREAD; ++i) {
        ucpg_warn("%s", payload);
    }
    return NULL;
}

static void test_log_lines_from_threads_do_not_interleave(void **state)
{
    pthread_t threads[LOG_THREADS];
    char path[sizeof(TEMP_TEMPLATE)];
    char pattern[128];
    char *text;
    intptr_t t;

    (void)state;
    temp_file_create(path, "");
    assert_int_equal(ucpg_log_configure(UCPG_LOG_WARN, path), UCPG_OK);
    for (t = 0; t < LOG_THREADS; ++t) {
        assert_int_equal(pthread_create(&threads[t], NULL, log_thread, (void*)t), 0);
    }
    for (t = 0; t < LOG_THREADS; ++t) {
        assert_int_equal(pthread_join(threads[t], NULL), 0);
    }
    ucpg_log_close();

    /* Each line is a prefix and one thread's letter, repeated, and nothing else. */
    text = unit_file_read_all(path);
    for (t = 0; t < LOG_THREADS; ++t) {
        snprintf(pattern, sizeof(pattern),
                 LOG_PREFIX_RE "WARN  test_config\\.c:[0-9]+ %c{%d}$",
                 (char)('a' + t), LOG_PAYLOAD);
        assert_int_equal(count_matching_lines(text, pattern), LOG_LINES_PER_THREAD);
    }
    free(text);
    unlink(path);
}


int main(void)
{
#define T(_test) cmocka_unit_test_setup_teardown(_test, capture_setup, capture_teardown)
    const struct CMUnitTest tests[] = {
        T(test_defaults_are_the_documented_values),
        T(test_print_shows_every_key_with_its_origin),
        T(test_every_key_is_set_from_environment),
        T(test_every_key_is_set_from_file),
        T(test_key_is_accepted_by_file_name_and_env_name),
        T(test_environment_beats_file),
        T(test_nodeid_accepts_decimal_and_hex),
        T(test_range_limits_are_inclusive),
        T(test_boot_is_case_insensitive_and_stored_canonical),
        T(test_log_level_key_is_case_insensitive),
        T(test_longest_domain_is_accepted),
        T(test_empty_log_file_means_stderr_and_is_accepted),
        T(test_relay_is_absolute_or_empty),
        T(test_non_number_is_rejected),
        T(test_negative_number_is_rejected),
        T(test_signed_positive_number_is_rejected),
        T(test_overflowing_number_is_rejected),
        T(test_value_below_range_is_rejected),
        T(test_value_above_range_is_rejected),
        T(test_domain_with_bad_characters_is_rejected),
        T(test_empty_domain_is_rejected),
        T(test_too_long_domain_is_rejected),
        T(test_relative_registry_dir_is_rejected),
        T(test_too_long_path_is_rejected),
        T(test_unknown_boot_is_rejected),
        T(test_unknown_log_level_is_rejected),
        T(test_unknown_key_is_rejected),
        T(test_bad_value_message_names_key_origin_value_and_range),
        T(test_file_comments_quotes_and_whitespace_are_handled),
        T(test_file_empty_quoted_value_sets_empty_string),
        T(test_file_last_line_without_newline_is_read),
        T(test_file_later_line_wins),
        T(test_file_records_its_name),
        T(test_file_unknown_key_is_error_naming_path_and_line),
        T(test_file_line_without_equals_is_syntax_error),
        T(test_file_equals_only_inside_comment_is_syntax_error),
        T(test_file_missing_key_is_syntax_error),
        T(test_file_unterminated_quote_is_syntax_error),
        T(test_file_text_after_closing_quote_is_syntax_error),
        T(test_file_bad_value_leaves_config_unchanged),
        T(test_file_reports_every_bad_line),
        T(test_missing_optional_file_is_ok),
        T(test_missing_required_file_is_error),
        T(test_directory_as_file_is_error),
        T(test_env_unknown_ucx_cpg_variable_is_warned_not_error),
        T(test_env_config_file_variable_is_not_a_key),
        T(test_env_other_variables_are_ignored),
        T(test_env_file_key_name_is_not_an_env_name),
        T(test_env_bad_value_leaves_config_unchanged),
        T(test_load_reads_file_named_by_ucx_cpg_config),
        T(test_load_environment_beats_file),
        T(test_load_fails_if_named_file_is_missing),
        T(test_load_fails_on_bad_environment_value),
        T(test_default_nodeid_is_stable_nonzero_and_31_bits),
        T(test_default_nodeid_is_the_same_in_another_process),
        T(test_default_nodeid_is_fnv1a_of_machine_id),
        T(test_key_info_iterates_all_keys),
        T(test_docs_list_every_key),
        T(test_log_level_parse_accepts_every_name_in_any_case),
        T(test_log_level_parse_rejects_unknown_and_keeps_output),
        T(test_log_level_name_round_trips_through_parse),
        T(test_log_line_has_documented_format),
        T(test_log_below_threshold_is_not_written),
        T(test_log_file_is_created_with_mode_0600),
        T(test_log_file_is_appended_not_truncated),
        T(test_log_configure_unopenable_file_is_io_error_keeping_old),
        T(test_log_configure_rejects_invalid_level),
        T(test_log_long_message_is_cut_to_one_line),
        T(test_log_keeps_errno),
        T(test_log_lines_from_threads_do_not_interleave),
    };
#undef T

    return cmocka_run_group_tests(tests, NULL, NULL);
}
