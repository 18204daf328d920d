/*
 * unit_util.h - small file helpers shared by the cmocka unit tests.
 * Header-only: each test is its own program. Include after <cmocka.h>.
 */
#ifndef UCPG_TEST_UNIT_UTIL_H
#define UCPG_TEST_UNIT_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Creates a file from template (mkstemp, modified in place) holding len
 * bytes of text. */
static inline void unit_temp_file(char *template_path, const char *text, size_t len)
{
    int fd = mkstemp(template_path);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    assert_int_equal(close(fd), 0);
}

/* Whole content of a file as a malloc'ed string. */
static inline char *unit_file_read_all(const char *path)
{
    FILE *file = fopen(path, "r");
    char *text;
    long size;

    assert_non_null(file);
    assert_int_equal(fseek(file, 0, SEEK_END), 0);
    size = ftell(file);
    assert_true(size >= 0);
    rewind(file);
    text = malloc((size_t)size + 1);
    assert_non_null(text);
    assert_int_equal(fread(text, 1, (size_t)size, file), (size_t)size);
    text[size] = '\0';
    fclose(file);
    return text;
}

/* Does the file at path contain needle? */
static inline int unit_file_contains(const char *path, const char *needle)
{
    char *text = unit_file_read_all(path);
    int found  = (strstr(text, needle) != NULL);

    free(text);
    return found;
}

#endif
