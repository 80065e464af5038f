/* fp_fnstr.c - FHIRPath string, regex, encoding and math functions (module fhirpath).
 * String functions work on code points (UTF-8), regular expressions use PCRE2 with
 * fl_malloc-backed contexts, math goes through exact decimals except the transcendental
 * functions (double). Registered in the table of fp_func.c. */
#define _GNU_SOURCE /* memmem (glibc, musl and the BSDs all have it) */
#include "fhirpath/fhirpath_int.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <math.h>
#include <pcre2.h>
#include <stdio.h>

#define FN(name) FP_FN(name)

/* ------------------------------------------------------------------ strings */

/* Number of UTF-8 code points. */
static size_t u8_len(fl_str sv)
{
    size_t n = 0;
    for (size_t i = 0; i < sv.len; i++)
        if (((unsigned char)sv.ptr[i] & 0xC0) != 0x80) n++;
    return n;
}

/* Byte offset of code point index cp (or len if past the end). */
static size_t u8_off(fl_str sv, size_t cp)
{
    size_t n = 0;
    for (size_t i = 0; i < sv.len; i++) {
        if (((unsigned char)sv.ptr[i] & 0xC0) != 0x80) {
            if (n == cp) return i;
            n++;
        }
    }
    return sv.len;
}

static bool find_sub(fl_str hay, fl_str needle, size_t *at)
{
    if (needle.len == 0) {
        *at = 0;
        return true;
    }
    if (needle.len > hay.len) return false;
    /* glibc memmem is linear (two-way), so hostile inputs cannot make this quadratic */
    const char *p = memmem(hay.ptr, hay.len, needle.ptr, needle.len);
    if (!p) return false;
    *at = (size_t)(p - hay.ptr);
    return true;
}

/* The input string and string argument 0 (and 1 when b is not NULL), in that order; *have is
 * false (with FL_OK: the result is empty) as soon as one of them is empty. */
static fl_rc str_args(fp_ctx *c, const fp_node *n, const fp_scope *s, fl_fp_coll in, fl_str *sv, fl_str *a,
                      fl_str *b, bool *have)
{
    bool h;
    *have = false;
    fl_rc rc = fpf_str_input(c, n, in, &h, sv);
    if (rc || !h) return rc;
    if ((rc = fpf_str_arg(c, n, 0, s, &h, a)) || !h) return rc;
    if (b && ((rc = fpf_str_arg(c, n, 1, s, &h, b)) || !h)) return rc;
    *have = true;
    return FL_OK;
}

FN(indexOf)
{
    bool have;
    fl_str sv, sub;
    fl_rc rc = str_args(c, n, s, in, &sv, &sub, NULL, &have);
    if (rc || !have) return rc;
    size_t at;
    if (!find_sub(sv, sub, &at)) return fpf_out_int(c, -1, out);
    return fpf_out_int(c, (int64_t)u8_len(fl_str_make(sv.ptr, at)), out);
}

FN(substring)
{
    bool h1, h2, h3 = false;
    fl_str sv;
    int64_t start, len = 0;
    fl_rc rc = fpf_str_input(c, n, in, &h1, &sv);
    if (rc || !h1) return rc;
    if ((rc = fpf_int_arg(c, n, 0, s, &h2, &start)) || !h2) return rc;
    if (n->nargs > 1 && (rc = fpf_int_arg(c, n, 1, s, &h3, &len))) return rc;
    size_t total = u8_len(sv);
    if (start < 0 || (uint64_t)start >= total) return FL_OK;
    size_t b = u8_off(sv, (size_t)start);
    size_t e = sv.len;
    if (h3) {
        if (len <= 0) return fpf_out_str(c, FL_STR(""), out);
        if ((uint64_t)start + (uint64_t)len < total) e = u8_off(sv, (size_t)start + (size_t)len);
    }
    return fpf_out_str(c, fl_str_make(sv.ptr + b, e - b), out);
}

static fl_rc str_pred(fp_ctx *c, const fp_node *n, const fp_scope *s, fl_fp_coll in, int mode, fl_fp_coll *out)
{
    bool have;
    fl_str sv, sub;
    fl_rc rc = str_args(c, n, s, in, &sv, &sub, NULL, &have);
    if (rc || !have) return rc;
    size_t at;
    bool v = mode == 0 ? fl_str_starts_with(sv, sub) : mode == 1 ? fl_str_ends_with(sv, sub) : find_sub(sv, sub, &at);
    return fhirpath_out_bool(c, v, out);
}

FN(startsWith) { return str_pred(c, n, s, in, 0, out); }
FN(endsWith) { return str_pred(c, n, s, in, 1, out); }
FN(contains) { return str_pred(c, n, s, in, 2, out); }

static fl_rc str_case(fp_ctx *c, const fp_node *n, fl_fp_coll in, bool upper, fl_fp_coll *out)
{
    bool h;
    fl_str sv;
    fl_rc rc = fpf_str_input(c, n, in, &h, &sv);
    if (rc || !h) return rc;
    char *b = fl_arena_alloc(c->a, sv.len + 1);
    if (!b) return fpf_nomem(c);
    for (size_t i = 0; i < sv.len; i++) {
        char ch = sv.ptr[i];
        if (upper && ch >= 'a' && ch <= 'z') ch = (char)(ch - 32);
        if (!upper && ch >= 'A' && ch <= 'Z') ch = (char)(ch + 32);
        b[i] = ch;
    }
    return fpf_out_str(c, fl_str_make(b, sv.len), out);
}

FN(upper) { (void)s; return str_case(c, n, in, true, out); }
FN(lower) { (void)s; return str_case(c, n, in, false, out); }

FN(length)
{
    (void)s;
    bool h;
    fl_str sv;
    fl_rc rc = fpf_str_input(c, n, in, &h, &sv);
    if (rc || !h) return rc;
    return fpf_out_int(c, (int64_t)u8_len(sv), out);
}

FN(toChars)
{
    (void)s;
    bool h;
    fl_str sv;
    fl_rc rc = fpf_str_input(c, n, in, &h, &sv);
    if (rc || !h) return rc;
    fp_cb b = {0};
    for (size_t i = 0; i < sv.len;) {
        size_t j = i + 1;
        while (j < sv.len && ((unsigned char)sv.ptr[j] & 0xC0) == 0x80) j++;
        fl_fp_item it = fl_fp_item_str(fl_str_make(sv.ptr + i, j - i));
        if ((rc = fhirpath_cb_push(c, &b, &it))) return rc;
        i = j;
    }
    *out = fhirpath_cb_coll(&b);
    return FL_OK;
}

FN(trim)
{
    (void)s;
    bool h;
    fl_str sv;
    fl_rc rc = fpf_str_input(c, n, in, &h, &sv);
    if (rc || !h) return rc;
    while (sv.len && (unsigned char)sv.ptr[0] <= ' ') {
        sv.ptr++;
        sv.len--;
    }
    while (sv.len && (unsigned char)sv.ptr[sv.len - 1] <= ' ') sv.len--;
    return fpf_out_str(c, sv, out);
}

FN(split)
{
    bool have;
    fl_str sv, sep;
    fl_rc rc = str_args(c, n, s, in, &sv, &sep, NULL, &have);
    if (rc || !have) return rc;
    fp_cb b = {0};
    size_t start = 0;
    if (sep.len == 0) {
        return fhirpath_fn_toChars(c, n, s, in, out);
    }
    size_t at;
    while (start <= sv.len && find_sub(fl_str_make(sv.ptr + start, sv.len - start), sep, &at)) {
        fl_fp_item it = fl_fp_item_str(fl_str_make(sv.ptr + start, at));
        if ((rc = fhirpath_cb_push(c, &b, &it))) return rc;
        start += at + sep.len;
    }
    fl_fp_item it = fl_fp_item_str(fl_str_make(sv.ptr + start, sv.len - start));
    if ((rc = fhirpath_cb_push(c, &b, &it))) return rc;
    *out = fhirpath_cb_coll(&b);
    return FL_OK;
}

FN(join)
{
    fl_str sep = FL_STR("");
    bool h = false;
    fl_rc rc;
    if (n->nargs && (rc = fpf_str_arg(c, n, 0, s, &h, &sep))) return rc;
    if (in.len == 0) { /* FHIRPath: the join of an empty collection is empty */
        out->items = NULL;
        out->len = 0;
        return FL_OK;
    }
    /* two passes over the parts: measure, then copy once into the arena */
    fl_str *parts = fl_arena_alloc(c->a, in.len * sizeof *parts);
    if (!parts) return fpf_nomem(c);
    size_t total = 0;
    for (size_t i = 0; i < in.len; i++) {
        if (!fp_item_string(c->a, &in.items[i], &parts[i]))
            return fhirpath_fail(c, n, FL_E_FP_EVAL, "join() needs strings, got %s", fl_fp_item_type_name(&in.items[i]));
        total += parts[i].len + (i ? sep.len : 0);
        if (total > FP_MAX_STRING_BYTES) return fl_err_set(c->err, FL_E_LIMIT, "fhirpath: join() result over %u bytes", FP_MAX_STRING_BYTES);
    }
    if (in.len == 1) return fpf_out_str(c, parts[0], out);
    char *buf = fl_arena_alloc(c->a, total + 1);
    if (!buf) return fpf_nomem(c);
    size_t k = 0;
    for (size_t i = 0; i < in.len; i++) {
        if (i && sep.len) {
            memcpy(buf + k, sep.ptr, sep.len);
            k += sep.len;
        }
        if (parts[i].len) memcpy(buf + k, parts[i].ptr, parts[i].len);
        k += parts[i].len;
    }
    return fpf_out_str(c, fl_str_make(buf, k), out);
}

FN(replace)
{
    bool have;
    fl_str sv, pat, rep;
    fl_rc rc = str_args(c, n, s, in, &sv, &pat, &rep, &have);
    if (rc || !have) return rc;
    fl_buf b;
    fl_buf_init(&b, FP_MAX_STRING_BYTES);
    if (pat.len == 0) {
        /* insert the replacement around every character */
        fl_buf_append_str(&b, rep);
        for (size_t i = 0; i < sv.len;) {
            size_t j = i + 1;
            while (j < sv.len && ((unsigned char)sv.ptr[j] & 0xC0) == 0x80) j++;
            fl_buf_append(&b, sv.ptr + i, j - i);
            fl_buf_append_str(&b, rep);
            i = j;
        }
    } else {
        size_t i = 0, at;
        while (i < sv.len && find_sub(fl_str_make(sv.ptr + i, sv.len - i), pat, &at)) {
            fl_buf_append(&b, sv.ptr + i, at);
            fl_buf_append_str(&b, rep);
            i += at + pat.len;
        }
        fl_buf_append(&b, sv.ptr + i, sv.len - i);
    }
    fl_str res = b.len ? fl_arena_str_dup(c->a, fl_buf_str(&b)) : FL_STR("");
    rc = b.rc;
    fl_buf_reset(&b);
    if (rc) return fl_err_set(c->err, rc, "fhirpath: replace() result too large");
    if (!res.ptr) return fpf_nomem(c);
    return fpf_out_str(c, res, out);
}

/* PCRE2 allocation through the library allocator. */
static void *pcre_alloc(PCRE2_SIZE size, void *ctx)
{
    (void)ctx;
    return fl_malloc(size);
}
static void pcre_free(void *p, void *ctx)
{
    (void)ctx;
    fl_free(p);
}

static fl_rc regex_compile(fp_ctx *c, const fp_node *n, fl_str pat, bool full, pcre2_general_context **gc,
                           pcre2_code **code)
{
    *gc = pcre2_general_context_create(pcre_alloc, pcre_free, NULL);
    if (!*gc) return fpf_nomem(c);
    pcre2_compile_context *cc = pcre2_compile_context_create(*gc);
    if (!cc) {
        pcre2_general_context_free(*gc);
        return fpf_nomem(c);
    }
    int ecode;
    PCRE2_SIZE eoff;
    uint32_t flags = PCRE2_UTF | PCRE2_DOTALL;
    if (full) flags |= PCRE2_ANCHORED | PCRE2_ENDANCHORED;
    *code = pcre2_compile((PCRE2_SPTR)pat.ptr, pat.len, flags, &ecode, &eoff, cc);
    pcre2_compile_context_free(cc);
    if (!*code) {
        PCRE2_UCHAR msg[128];
        pcre2_get_error_message(ecode, msg, sizeof msg);
        pcre2_general_context_free(*gc);
        return fhirpath_fail(c, n, FL_E_FP_EVAL, "bad regular expression at offset %zu: %s", (size_t)eoff, (const char *)msg);
    }
    return FL_OK;
}

/* Match context bounding backtracking (catastrophic patterns stop with FL_E_LIMIT). */
static pcre2_match_context *regex_limits(pcre2_general_context *gc)
{
    pcre2_match_context *mc = pcre2_match_context_create(gc);
    if (!mc) return NULL;
    pcre2_set_match_limit(mc, FL_FP_MAX_REGEX_STEPS);
    pcre2_set_depth_limit(mc, FL_FP_MAX_REGEX_STEPS / 100);
    pcre2_set_heap_limit(mc, 16 * 1024); /* KiB */
    return mc;
}

static fl_rc do_matches(fp_ctx *c, const fp_node *n, const fp_scope *s, fl_fp_coll in, bool full, fl_fp_coll *out)
{
    bool have;
    fl_str sv, pat;
    fl_rc rc = str_args(c, n, s, in, &sv, &pat, NULL, &have);
    if (rc || !have) return rc;
    pcre2_general_context *gc;
    pcre2_code *code;
    if ((rc = regex_compile(c, n, pat, full, &gc, &code))) return rc;
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(code, gc);
    pcre2_match_context *mc = regex_limits(gc);
    int r = md && mc ? pcre2_match(code, (PCRE2_SPTR)(sv.ptr ? sv.ptr : ""), sv.len, 0, 0, md, mc) : PCRE2_ERROR_NOMEMORY;
    if (md) pcre2_match_data_free(md);
    if (mc) pcre2_match_context_free(mc);
    pcre2_code_free(code);
    pcre2_general_context_free(gc);
    if (r == PCRE2_ERROR_NOMEMORY) return fpf_nomem(c);
    if (r == PCRE2_ERROR_MATCHLIMIT || r == PCRE2_ERROR_DEPTHLIMIT || r == PCRE2_ERROR_HEAPLIMIT)
        return fhirpath_fail(c, n, FL_E_LIMIT, "regular expression needs more than %u steps", FL_FP_MAX_REGEX_STEPS);
    if (r < 0 && r != PCRE2_ERROR_NOMATCH) return fhirpath_fail(c, n, FL_E_FP_EVAL, "regular expression failed (%d)", r);
    return fhirpath_out_bool(c, r >= 0, out);
}

FN(matches) { return do_matches(c, n, s, in, false, out); }
FN(matchesFull) { return do_matches(c, n, s, in, true, out); }

FN(replaceMatches)
{
    bool have;
    fl_str sv, pat, rep;
    fl_rc rc = str_args(c, n, s, in, &sv, &pat, &rep, &have);
    if (rc || !have) return rc;
    if (pat.len == 0) return fpf_out_str(c, sv, out);
    pcre2_general_context *gc;
    pcre2_code *code;
    if ((rc = regex_compile(c, n, pat, false, &gc, &code))) return rc;
    PCRE2_SIZE cap = sv.len * 2 + rep.len * 4 + 64;
    int r = PCRE2_ERROR_NOMEMORY;
    PCRE2_UCHAR *buf = NULL;
    pcre2_match_context *mc = regex_limits(gc);
    for (int attempt = 0; attempt < 4 && mc; attempt++) {
        buf = fl_arena_alloc(c->a, cap + 1);
        if (!buf) break;
        PCRE2_SIZE olen = cap;
        r = pcre2_substitute(code, (PCRE2_SPTR)(sv.ptr ? sv.ptr : ""), sv.len, 0,
                             PCRE2_SUBSTITUTE_GLOBAL | PCRE2_SUBSTITUTE_OVERFLOW_LENGTH, NULL, mc,
                             (PCRE2_SPTR)(rep.ptr ? rep.ptr : ""), rep.len, buf, &olen);
        if (r == PCRE2_ERROR_NOMEMORY && olen > cap && olen < FP_MAX_STRING_BYTES) {
            cap = olen;
            continue;
        }
        if (r >= 0) cap = olen;
        break;
    }
    if (mc) pcre2_match_context_free(mc);
    pcre2_code_free(code);
    pcre2_general_context_free(gc);
    if (!buf) return fpf_nomem(c);
    if (r == PCRE2_ERROR_MATCHLIMIT || r == PCRE2_ERROR_DEPTHLIMIT || r == PCRE2_ERROR_HEAPLIMIT)
        return fhirpath_fail(c, n, FL_E_LIMIT, "regular expression needs more than %u steps", FL_FP_MAX_REGEX_STEPS);
    if (r < 0) return fhirpath_fail(c, n, FL_E_FP_EVAL, "replaceMatches() failed (%d)", r);
    return fpf_out_str(c, fl_str_make((const char *)buf, cap), out);
}

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static fl_rc codec(fp_ctx *c, const fp_node *n, const fp_scope *s, fl_fp_coll in, bool enc, fl_fp_coll *out)
{
    bool have;
    fl_str sv, fmt;
    fl_rc rc = str_args(c, n, s, in, &sv, &fmt, NULL, &have);
    if (rc || !have) return rc;
    bool url = fl_str_eq_c(fmt, "urlbase64");
    char *o = fl_arena_alloc(c->a, sv.len * 2 + 8);
    if (!o) return fpf_nomem(c);
    size_t k = 0;
    if (fl_str_eq_c(fmt, "hex")) {
        if (enc) {
            for (size_t i = 0; i < sv.len; i++) {
                o[k++] = "0123456789abcdef"[(unsigned char)sv.ptr[i] >> 4];
                o[k++] = "0123456789abcdef"[(unsigned char)sv.ptr[i] & 15];
            }
        } else {
            if (sv.len % 2) return FL_OK;
            for (size_t i = 0; i < sv.len; i += 2) {
                int hi = -1, lo = -1;
                char a = sv.ptr[i], b = sv.ptr[i + 1];
                hi = (a >= '0' && a <= '9') ? a - '0' : (a >= 'a' && a <= 'f') ? a - 'a' + 10 : (a >= 'A' && a <= 'F') ? a - 'A' + 10 : -1;
                lo = (b >= '0' && b <= '9') ? b - '0' : (b >= 'a' && b <= 'f') ? b - 'a' + 10 : (b >= 'A' && b <= 'F') ? b - 'A' + 10 : -1;
                if (hi < 0 || lo < 0) return FL_OK;
                o[k++] = (char)(hi * 16 + lo);
            }
        }
    } else if (fl_str_eq_c(fmt, "base64") || url) {
        if (enc) {
            for (size_t i = 0; i < sv.len; i += 3) {
                size_t rem = sv.len - i < 3 ? sv.len - i : 3;
                uint32_t v = (uint32_t)(unsigned char)sv.ptr[i] << 16;
                if (rem > 1) v |= (uint32_t)(unsigned char)sv.ptr[i + 1] << 8;
                if (rem > 2) v |= (uint32_t)(unsigned char)sv.ptr[i + 2];
                for (size_t j = 0; j < 4; j++) {
                    if (j > rem) {
                        o[k++] = '=';
                        continue;
                    }
                    char ch = b64[(v >> (18 - 6 * j)) & 63];
                    if (url && ch == '+') ch = '-';
                    if (url && ch == '/') ch = '_';
                    o[k++] = ch;
                }
            }
        } else {
            uint32_t acc = 0;
            int bits = 0;
            for (size_t i = 0; i < sv.len; i++) {
                char ch = sv.ptr[i];
                int v;
                if (ch == '=') break;
                if (ch >= 'A' && ch <= 'Z') v = ch - 'A';
                else if (ch >= 'a' && ch <= 'z') v = ch - 'a' + 26;
                else if (ch >= '0' && ch <= '9') v = ch - '0' + 52;
                else if (ch == '+' || ch == '-') v = 62;
                else if (ch == '/' || ch == '_') v = 63;
                else return FL_OK;
                acc = (acc << 6) | (uint32_t)v;
                bits += 6;
                if (bits >= 8) {
                    bits -= 8;
                    o[k++] = (char)((acc >> bits) & 0xFF);
                }
            }
        }
    } else {
        return fhirpath_fail(c, n, FL_E_FP_EVAL, "unknown encoding '" FL_STR_FMT "'", FL_STR_ARG(fmt));
    }
    return fpf_out_str(c, fl_str_make(o, k), out);
}

FN(encode) { return codec(c, n, s, in, true, out); }
FN(decode) { return codec(c, n, s, in, false, out); }

static fl_rc escape_impl(fp_ctx *c, const fp_node *n, const fp_scope *s, fl_fp_coll in, bool esc, fl_fp_coll *out)
{
    bool have;
    fl_str sv, fmt;
    fl_rc rc = str_args(c, n, s, in, &sv, &fmt, NULL, &have);
    if (rc || !have) return rc;
    bool html = fl_str_eq_c(fmt, "html");
    if (!html && !fl_str_eq_c(fmt, "json")) return fhirpath_fail(c, n, FL_E_FP_EVAL, "unknown escape format");
    fl_buf b;
    fl_buf_init(&b, FP_MAX_STRING_BYTES);
    static const struct { char ch; const char *ent; } ents[] = {{'&', "&amp;"}, {'<', "&lt;"}, {'>', "&gt;"}, {'"', "&quot;"}, {'\'', "&#39;"}};
    for (size_t i = 0; i < sv.len; i++) {
        char ch = sv.ptr[i];
        bool done = false;
        if (html && esc) {
            for (size_t e = 0; e < 5 && !done; e++)
                if (ch == ents[e].ch) {
                    fl_buf_append_c(&b, ents[e].ent);
                    done = true;
                }
        } else if (html) {
            for (size_t e = 0; e < 5 && !done; e++) {
                size_t el = strlen(ents[e].ent);
                if (i + el <= sv.len && !memcmp(sv.ptr + i, ents[e].ent, el)) {
                    fl_buf_putc(&b, ents[e].ch);
                    i += el - 1;
                    done = true;
                }
            }
        } else if (esc) {
            if (ch == '"' || ch == '\\') {
                fl_buf_putc(&b, '\\');
                fl_buf_putc(&b, ch);
                done = true;
            }
        } else if (ch == '\\' && i + 1 < sv.len) {
            fl_buf_putc(&b, sv.ptr[++i]);
            done = true;
        }
        if (!done) fl_buf_putc(&b, ch);
    }
    fl_str res = b.len ? fl_arena_str_dup(c->a, fl_buf_str(&b)) : FL_STR("");
    rc = b.rc;
    fl_buf_reset(&b);
    if (rc) return fl_err_set(c->err, rc, "fhirpath: escape result too large");
    if (!res.ptr) return fpf_nomem(c);
    return fpf_out_str(c, res, out);
}

FN(escape) { return escape_impl(c, n, s, in, true, out); }
FN(unescape) { return escape_impl(c, n, s, in, false, out); }

/* ------------------------------------------------------------------ math */

static fl_rc num_input(fp_ctx *c, const fp_node *n, fl_fp_coll in, const fl_fp_item **it)
{
    fl_rc rc = fpf_one_input(c, n, in, it);
    if (rc || !*it) return rc;
    uint8_t k = (*it)->kind;
    if (k != FL_FP_INT && k != FL_FP_DEC && !(k == FL_FP_QTY && !strcmp(n->fn->name, "abs")))
        return fhirpath_fail(c, n, FL_E_FP_EVAL, "%s() needs a number, got %s", n->fn->name, fl_fp_item_type_name(*it));
    return FL_OK;
}

FN(abs)
{
    (void)s;
    const fl_fp_item *it = NULL;
    fl_rc rc = num_input(c, n, in, &it);
    if (rc || !it) return rc;
    if (it->kind == FL_FP_INT) {
        if (it->v.i == INT64_MIN) return FL_OK;
        return fpf_out_int(c, it->v.i < 0 ? -it->v.i : it->v.i, out);
    }
    fp_dec d;
    if (!fp_dec_parse(it->kind == FL_FP_QTY ? it->v.q.value : it->v.s, &d)) return FL_OK;
    if (d.m < 0) d.m = -d.m;
    if (it->kind == FL_FP_QTY) {
        fl_fp_item q = *it;
        q.v.q.value = fp_dec_text(c->a, d);
        if (!q.v.q.value.ptr) return fpf_nomem(c);
        return fhirpath_out_item(c, &q, out);
    }
    return fpf_out_dec(c, d, out);
}

static fl_rc round_like(fp_ctx *c, const fp_node *n, fl_fp_coll in, int mode, fl_fp_coll *out)
{
    const fl_fp_item *it = NULL;
    fl_rc rc = num_input(c, n, in, &it);
    if (rc || !it) return rc;
    if (it->kind == FL_FP_INT) return fpf_out_int(c, it->v.i, out);
    fp_dec d, r;
    int64_t v;
    if (!fp_item_dec(it, &d) || !fp_dec_rescale(d, 0, mode, &r) || !fp_dec_to_i64(r, &v)) return FL_OK;
    return fpf_out_int(c, v, out);
}

FN(ceiling) { (void)s; return round_like(c, n, in, 2, out); }
FN(floor) { (void)s; return round_like(c, n, in, 1, out); }
FN(truncate) { (void)s; return round_like(c, n, in, 3, out); }

FN(round)
{
    const fl_fp_item *it = NULL;
    fl_rc rc = num_input(c, n, in, &it);
    if (rc || !it) return rc;
    int64_t prec = 0;
    bool have = false;
    if (n->nargs && (rc = fpf_int_arg(c, n, 0, s, &have, &prec))) return rc;
    if (prec < 0 || prec > FP_DEC_MAX_SCALE) return fhirpath_fail(c, n, FL_E_FP_EVAL, "round() precision out of range");
    fp_dec d, r;
    if (!fp_item_dec(it, &d) || !fp_dec_rescale(d, (int32_t)prec, 0, &r)) return FL_OK;
    return fpf_out_dec(c, r, out);
}

static fl_rc math_f(fp_ctx *c, const fp_node *n, const fp_scope *s, fl_fp_coll in, int which, fl_fp_coll *out)
{
    const fl_fp_item *it = NULL;
    fl_rc rc = num_input(c, n, in, &it);
    if (rc || !it) return rc;
    fp_dec d;
    if (!fp_item_dec(it, &d)) return FL_OK;
    double x = fp_dec_to_f64(d), y = 0, r;
    if (which >= 4) {
        fl_fp_coll a;
        if ((rc = fpf_arg(c, n, 0, s, &a))) return rc;
        if (a.len == 0) return FL_OK;
        fp_dec e;
        if (a.len > 1 || !fp_item_dec(&a.items[0], &e)) return fhirpath_fail(c, n, FL_E_FP_EVAL, "%s() needs a number argument", n->fn->name);
        y = fp_dec_to_f64(e);
        if (which == 5 && it->kind == FL_FP_INT && a.items[0].kind == FL_FP_INT && a.items[0].v.i >= 0) {
            /* integer power stays integer */
            int64_t base = it->v.i, acc = 1, ex = a.items[0].v.i;
            while (ex > 0) { /* by squaring: at most 63 steps */
                if ((ex & 1) && __builtin_mul_overflow(acc, base, &acc)) return FL_OK;
                ex >>= 1;
                if (ex && __builtin_mul_overflow(base, base, &base)) return FL_OK;
            }
            return fpf_out_int(c, acc, out);
        }
    }
    switch (which) {
    case 0: r = sqrt(x); break;
    case 1: r = log(x); break;
    case 2: r = exp(x); break;
    case 4: r = log(x) / log(y); break;
    case 5: r = pow(x, y); break;
    default: r = NAN; break;
    }
    fp_dec o;
    if (!fp_dec_from_f64(r, &o)) return FL_OK;
    return fpf_out_dec(c, o, out);
}

FN(sqrt) { return math_f(c, n, s, in, 0, out); }
FN(ln) { return math_f(c, n, s, in, 1, out); }
FN(exp) { return math_f(c, n, s, in, 2, out); }
FN(log) { return math_f(c, n, s, in, 4, out); }
FN(power) { return math_f(c, n, s, in, 5, out); }

/* ------------------------------------------------------------------ boundaries */

static fl_rc dec_boundary(fp_ctx *c, const fp_node *n, fp_dec d, bool have_p, int64_t p, bool high, fl_str *text)
{
    (void)n;
    if (!have_p) p = 8;
    if (p < 0 || p > 28) return FL_E_NOT_FOUND;
    /* the value is known to +/- half a unit in its last digit */
    fp_dec half = {5, d.scale + 1}, b;
    if (!(high ? fp_dec_add(d, half, &b) : fp_dec_sub(d, half, &b))) return FL_E_NOT_FOUND;
    fp_dec r;
    if (!fp_dec_rescale(b, (int32_t)p, high ? 2 : 1, &r)) return FL_E_NOT_FOUND;
    if ((int32_t)p >= b.scale) {
        if (!fp_dec_rescale(b, (int32_t)p, 0, &r)) return FL_E_NOT_FOUND;
    }
    /* a boundary smaller than one unit at precision p is zero, keeping the value's sign
     * (the suite: (-0.0034).lowBoundary(1) = -0.0, 0.0034.highBoundary(1) = 0.0) */
    fp_dec unit = {1, (int32_t)p}, mag = b;
    if (mag.m < 0) mag.m = -mag.m;
    bool tiny = p > 0 && fp_dec_cmp(mag, unit) < 0;
    if (tiny) r = (fp_dec){0, (int32_t)p};
    *text = fp_dec_text(c->a, r);
    if (!text->ptr) return fpf_nomem(c);
    if (r.m == 0 && d.m < 0 && p > 0) {
        char *t = fl_arena_printf(c->a, "-" FL_STR_FMT, FL_STR_ARG(*text));
        if (!t) return fpf_nomem(c);
        *text = fl_str_c(t);
    }
    return FL_OK;
}

static fl_rc boundary(fp_ctx *c, const fp_node *n, const fp_scope *s, fl_fp_coll in, bool high, fl_fp_coll *out)
{
    const fl_fp_item *it = NULL;
    fl_rc rc = fpf_one_input(c, n, in, &it);
    if (rc || !it) return rc;
    bool have_p = false;
    int64_t p = 0;
    if (n->nargs && (rc = fpf_int_arg(c, n, 0, s, &have_p, &p))) return rc;
    if (it->kind == FL_FP_INT || it->kind == FL_FP_DEC || it->kind == FL_FP_QTY) {
        fp_dec d;
        if (!fp_dec_parse(it->kind == FL_FP_INT ? FL_STR("0") : it->kind == FL_FP_QTY ? it->v.q.value : it->v.s, &d)) return FL_OK;
        if (it->kind == FL_FP_INT) d = fp_dec_from_i64(it->v.i);
        fl_str t;
        rc = dec_boundary(c, n, d, have_p, p, high, &t);
        if (rc == FL_E_NOT_FOUND) return FL_OK;
        if (rc) return rc;
        fl_fp_item r = *it;
        r.src = NULL;
        r.ext = NULL;
        r.ftype = 0;
        if (it->kind == FL_FP_QTY) r.v.q.value = t;
        else r = fl_fp_item_dec(t);
        return fhirpath_out_item(c, &r, out);
    }
    fp_dt d;
    fl_fp_kind k;
    if (!fp_item_temporal(it, (fl_fp_kind)it->kind, &d, &k)) return FL_OK;
    /* target precision in digits: date 4/6/8, dateTime up to 17, time 2/4/6/9 */
    int64_t maxp = k == FL_FP_DATE ? 8 : k == FL_FP_TIME ? 9 : 17;
    if (!have_p) p = maxp;
    uint8_t tp;
    if (k == FL_FP_TIME) {
        tp = p == 2 ? FL_FP_PREC_HOUR : p == 4 ? FL_FP_PREC_MINUTE : p == 6 ? FL_FP_PREC_SECOND : p == 9 ? FL_FP_PREC_MS : 0;
    } else {
        tp = p == 4 ? FL_FP_PREC_YEAR : p == 6 ? FL_FP_PREC_MONTH : p == 8 ? FL_FP_PREC_DAY : p == 10 ? FL_FP_PREC_HOUR
           : p == 12 ? FL_FP_PREC_MINUTE : p == 14 ? FL_FP_PREC_SECOND : p == 17 ? FL_FP_PREC_MS : 0;
        if (k == FL_FP_DATE && tp > FL_FP_PREC_DAY) tp = 0;
    }
    if (!tp) return FL_OK;
    /* fill the missing parts with their lowest or highest values */
    if (d.prec < FL_FP_PREC_MONTH && !d.is_time) d.month = high ? 12 : 1;
    if (d.prec < FL_FP_PREC_DAY && !d.is_time) {
        static const int32_t dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        int32_t md = dm[d.month - 1];
        if (d.month == 2 && (d.year % 4 == 0 && (d.year % 100 != 0 || d.year % 400 == 0))) md = 29;
        d.day = high ? md : 1;
    }
    if (d.prec < FL_FP_PREC_HOUR) d.hour = high ? 23 : 0;
    if (d.prec < FL_FP_PREC_MINUTE) d.minute = high ? 59 : 0;
    if (d.prec < FL_FP_PREC_SECOND) d.second = high ? 59 : 0;
    if (d.prec < FL_FP_PREC_MS) d.ms = high ? 999 : 0;
    if (k == FL_FP_DATETIME && !d.has_tz && tp >= FL_FP_PREC_HOUR) {
        d.has_tz = true;
        d.tz_min = high ? -12 * 60 : 14 * 60;
    }
    d.prec = tp;
    return fpf_out_dt(c, &d, k, out);
}

FN(lowBoundary) { return boundary(c, n, s, in, false, out); }
FN(highBoundary) { return boundary(c, n, s, in, true, out); }

FN(precision)
{
    (void)s;
    const fl_fp_item *it = NULL;
    fl_rc rc = fpf_one_input(c, n, in, &it);
    if (rc || !it) return rc;
    if (it->kind == FL_FP_DEC) {
        fp_dec d;
        if (!fp_dec_parse(it->v.s, &d)) return FL_OK;
        return fpf_out_int(c, d.scale, out);
    }
    if (it->kind == FL_FP_INT) return fpf_out_int(c, 0, out);
    fp_dt d;
    fl_fp_kind k;
    if (!fp_item_temporal(it, (fl_fp_kind)it->kind, &d, &k)) return FL_OK;
    static const int dp[] = {0, 4, 6, 8, 10, 12, 14, 17};
    static const int tp[] = {0, 0, 0, 0, 2, 4, 6, 9};
    return fpf_out_int(c, k == FL_FP_TIME ? tp[d.prec] : dp[d.prec], out);
}

FN(comparable)
{
    const fl_fp_item *it = NULL;
    fl_rc rc = fpf_one_input(c, n, in, &it);
    if (rc || !it) return rc;
    fl_fp_coll o;
    if ((rc = fpf_arg(c, n, 0, s, &o))) return rc;
    if (o.len != 1 || it->kind != FL_FP_QTY || o.items[0].kind != FL_FP_QTY) return FL_OK;
    fp_dec a, b, ca, cb;
    fl_str ua, ub;
    if (!fp_dec_parse(it->v.q.value, &a) || !fp_dec_parse(o.items[0].v.q.value, &b)) return FL_OK;
    bool ok = fp_qty_canon(c->a, a, it->v.q.unit, &ca, &ua) && fp_qty_canon(c->a, b, o.items[0].v.q.unit, &cb, &ub);
    return fhirpath_out_bool(c, ok && fl_str_eq(ua, ub), out);
}

