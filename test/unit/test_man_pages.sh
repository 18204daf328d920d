#!/bin/sh
#
# test_man_pages.sh - the manual pages under man/ against what they document.
#
#   1. every RSMAPI function of <rsmapi.h> and every CPG function of
#      <corosync/cpg.h> has a section-3 page (a page, or a ".so" link to one
#      that exists), and every installed program a section-1 page;
#   2. every UCX_CPG_* variable that core/config.c defines is in ucx_cpg(7);
#   3. every page renders with groff without a single warning;
#   4. the prototypes of every section-3 SYNOPSIS compile after the header
#      they name (a prototype that differs from the header's is a
#      "conflicting types" error);
#   5. every page is in man/Makefile.inc, so that it is installed and
#      distributed.
#
# Exit status (automake): 0 all hold, 1 one does not (each failure printed),
# 77 skipped (no groff: install groff-base; contrib/quickstart.sh does).

set -u

here=$(cd "$(dirname "$0")" && pwd)
if [ -n "${srcdir:-}" ] && [ -d "$srcdir/man" ]; then
    top=$(cd "$srcdir" && pwd)
else
    top=$(cd "$here/../.." && pwd)
fi
man="$top/man"
CC=${CC:-cc}
failures=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() {
    echo "FAIL: $*"
    failures=$((failures + 1))
}

if ! command -v groff >/dev/null 2>&1; then
    echo "SKIP: groff not found (apt-get install -y groff-base)"
    exit 77
fi

# --- 1. a page for every function and program ------------------------------------

# A page or a link; a link must name a page that exists.
check_page() {
    page="$man/$1"
    if [ ! -f "$page" ]; then
        fail "no manual page $1 ($2)"
        return
    fi
    target=$(sed -n 's/^\.so  *//p' "$page")
    if [ -n "$target" ] && [ ! -f "$man/$target" ]; then
        fail "$1 links to $target, which does not exist"
    fi
}

rsm_funcs=$(sed -n 's/^RSMAPI_API.*[ *]\(rsm_[a-z0-9_]*\)(.*/\1/p' "$top/include/rsmapi.h")
cpg_funcs=$(sed -n 's/^UCX_CPG_COROSYNC_API.*[ *]\(cpg_[a-z0-9_]*\)(.*/\1/p' \
            "$top/include/corosync/cpg.h")
[ "$(echo "$rsm_funcs" | wc -w)" -ge 40 ] || fail "found only $(echo "$rsm_funcs" | wc -w) RSMAPI functions in rsmapi.h: the pattern is out of date"
[ "$(echo "$cpg_funcs" | wc -w)" -ge 20 ] || fail "found only $(echo "$cpg_funcs" | wc -w) CPG functions in cpg.h: the pattern is out of date"
for f in $rsm_funcs $cpg_funcs; do
    check_page "man3/$f.3" "function $f"
done
programs=$(sed -n 's/^bin_PROGRAMS *+*= *//p' "$top/Makefile.am" "$top/contrib/perftest/Makefile.inc")
[ -n "$programs" ] || fail "no bin_PROGRAMS found in Makefile.am"
for p in $programs; do
    check_page "man1/$p.1" "program $p"
done

# --- 2. every setting in ucx_cpg(7) ----------------------------------------------

for v in $(grep -o 'UCX_CPG_[A-Z0-9_]*' "$top/ucx_cpg/core/config.c" | sort -u); do
    grep -q "$v" "$man/man7/ucx_cpg.7" 2>/dev/null || fail "ucx_cpg(7) does not document $v"
done

# --- 3. every page renders cleanly -----------------------------------------------

pages=$(cd "$man" && find . -name '*.[1-8]' -type f | sed 's|^\./||' | sort)
for page in $pages; do
    grep -q '^\.so ' "$man/$page" && continue
    warnings=$(cd "$man" && groff -man -Tutf8 -ww -z "$page" 2>&1)
    [ -z "$warnings" ] || fail "$page: groff warns: $warnings"
    [ "$(cd "$man" && groff -man -Tutf8 "$page" 2>/dev/null | wc -l)" -gt 10 ] ||
        fail "$page renders to almost nothing"
done

# --- 4. the SYNOPSIS prototypes agree with the headers ---------------------------

# The SYNOPSIS of a section-3 page as plain text (fonts and hyphenation off),
# up to its "Link with" line: #include lines, comments and prototypes.
synopsis_text() {
    (cd "$man" && groff -man -Tascii -P-c -P-b -P-u -rHY=0 "$1" 2>/dev/null) |
        sed -n '/^SYNOPSIS/,/^[A-Z][A-Z ]*$/p' | sed '1d;$d' | sed '/Link with/,$d'
}

for page in $pages; do
    case "$page" in man3/*) ;; *) continue ;; esac
    grep -q '^\.so ' "$man/$page" && continue
    text=$(synopsis_text "$page")
    name=$(basename "$page" .3)
    if ! echo "$text" | grep -q '^ *#include'; then
        fail "$page: no #include in its SYNOPSIS"
        continue
    fi
    # A function's own page must show its prototype; an overview need not.
    if echo " $rsm_funcs $cpg_funcs " | tr '\n' ' ' | grep -q " $name " &&
       ! echo "$text" | tr '\n' ' ' | grep -q "[ *]$name *("; then
        fail "$page: its SYNOPSIS lacks the prototype of $name"
    fi
    c="$tmp/$name.c"
    echo "$text" >"$c"
    if ! out=$($CC -std=gnu11 -Wall -Werror -fsyntax-only -I"$top/include" "$c" 2>&1); then
        fail "$page: its SYNOPSIS does not compile against the header:"
        echo "$out" | head -20
    fi
done

# --- 5. every page installed and distributed -------------------------------------

for page in $pages; do
    grep -q "man/$page" "$man/Makefile.inc" || fail "$page is not listed in man/Makefile.inc"
done

npages=$(echo "$pages" | wc -w)
if [ "$failures" -ne 0 ]; then
    echo "$failures failure(s) in $npages manual pages"
    exit 1
fi
echo "PASS: $npages manual pages: one for each of $(echo "$rsm_funcs $cpg_funcs" | wc -w)" \
     "functions and $(echo "$programs" | wc -w) programs, every setting in ucx_cpg(7)," \
     "no groff warning, every SYNOPSIS compiles against its header"
exit 0
