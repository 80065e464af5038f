/* test_json_parse.c - parser edge cases (tests src/json/json_parse.c, json_val.c):
 * error positions and messages, limits, duplicate keys, strings and surrogates,
 * zero-copy rule, number text and views, lookup and equality. */
#include "fhirlake/json.h"
#include "testhelp.h"

#include <math.h>
#include <stdlib.h>

static fl_arena A;

static fl_rc parse_opts(const char *s, uint32_t flags, fl_json_val **v, fl_err *err)
{
    fl_json_opts o = {.flags = flags};
    fl_err_clear(err);
    return fl_json_parse(s, strlen(s), &o, &A, v, NULL, err);
}

static fl_rc parse(const char *s, fl_json_val **v, fl_err *err) { return parse_opts(s, 0, v, err); }

/* Expect failure with code, 1-based line/col and a message containing `frag`. */
static void expect_err(const char *s, fl_rc code, uint32_t line, uint32_t col, const char *frag)
{
    fl_json_val *v = NULL;
    fl_err err;
    fl_rc rc = parse(s, &v, &err);
    CHECK_MSG(rc == code, "%s: got %s want %s (%s)", s, fl_rc_name(rc), fl_rc_name(code), err.msg);
    CHECK_MSG(err.line == line && err.col == col, "%s: at %u:%u want %u:%u (%s)", s, err.line, err.col, line,
              col, err.msg);
    CHECK_MSG(strstr(err.msg, frag) != NULL, "%s: message \"%s\" lacks \"%s\"", s, err.msg, frag);
    CHECK(v == NULL);
}

static void test_basic_dom(void)
{
    fl_json_val *v;
    fl_err err;
    const char *s = " {\"b\":1,\"a\":[true,false,null,\"x\"],\"c\":{}, \"d\":[]} ";
    CHECK(parse(s, &v, &err) == FL_OK);
    CHECK(fl_json_is_obj(v));
    CHECK_EQ_INT(v->len, 4);
    /* member order is source order */
    CHECK_EQ_MEM(v->u.members[0].key.ptr, v->u.members[0].key.len, "b");
    CHECK_EQ_MEM(v->u.members[1].key.ptr, v->u.members[1].key.len, "a");
    CHECK_EQ_MEM(v->u.members[2].key.ptr, v->u.members[2].key.len, "c");
    CHECK_EQ_MEM(v->u.members[3].key.ptr, v->u.members[3].key.len, "d");
    const fl_json_val *a = fl_json_get_c(v, "a");
    CHECK(fl_json_is_arr(a) && a->len == 4);
    CHECK(a->u.items[0].type == FL_JSON_TRUE && a->u.items[1].type == FL_JSON_FALSE);
    CHECK(fl_json_is_null(&a->u.items[2]) && fl_json_is_str(&a->u.items[3]));
    CHECK(fl_json_is_bool(&a->u.items[0]));
    CHECK(fl_json_get_c(v, "zz") == NULL);
    CHECK(fl_json_get_c(a, "a") == NULL); /* not an object */
    const fl_json_val *c = fl_json_get_c(v, "c");
    CHECK(fl_json_is_obj(c) && c->len == 0);
    CHECK(fl_json_is_arr(fl_json_get_c(v, "d")) && fl_json_get_c(v, "d")->len == 0);
    fl_str x = fl_json_str(&a->u.items[3]);
    CHECK_EQ_MEM(x.ptr, x.len, "x");
    CHECK(fl_json_str(&a->u.items[0]).ptr == NULL);
    /* scalars at the top level */
    CHECK(parse("\"only\"", &v, &err) == FL_OK && fl_json_is_str(v));
    CHECK(parse(" 42 ", &v, &err) == FL_OK && fl_json_is_num(v));
    CHECK(parse("null", &v, &err) == FL_OK && fl_json_is_null(v));
    fl_arena_reset(&A);
}

static void test_errors_positions(void)
{
    expect_err("", FL_E_JSON_SYNTAX, 1, 1, "expected a JSON value, found end of input");
    expect_err("   \n  ", FL_E_JSON_SYNTAX, 2, 3, "expected a JSON value, found end of input");
    expect_err("{\n  \"a\": 1,\n  \"b\" 2\n}", FL_E_JSON_SYNTAX, 3, 7, "expected ':' after object key, found '2'");
    expect_err("{\"a\":1 \"b\":2}", FL_E_JSON_SYNTAX, 1, 8, "expected ',' or '}' after object member, found '\"'");
    expect_err("[1 2]", FL_E_JSON_SYNTAX, 1, 4, "expected ',' or ']' after array element, found '2'");
    expect_err("[1,]", FL_E_JSON_SYNTAX, 1, 4, "expected a JSON value, found ']'");
    expect_err("{\"a\":1,}", FL_E_JSON_SYNTAX, 1, 8, "expected a string key after ',', found '}'");
    expect_err("{a:1}", FL_E_JSON_SYNTAX, 1, 2, "expected a string key or '}', found 'a'");
    expect_err("[tru]", FL_E_JSON_SYNTAX, 1, 5, "invalid literal: expected 'true', found ']'");
    expect_err("[nul", FL_E_JSON_SYNTAX, 1, 5, "expected 'null', found end of input");
    /* literals are compared as one word: a wrong byte anywhere in it is found and placed */
    expect_err("[fXlse]", FL_E_JSON_SYNTAX, 1, 3, "invalid literal: expected 'false', found 'X'");
    expect_err("[falsE]", FL_E_JSON_SYNTAX, 1, 6, "invalid literal: expected 'false', found 'E'");
    expect_err("[trUe]", FL_E_JSON_SYNTAX, 1, 4, "invalid literal: expected 'true', found 'U'");
    expect_err("nulL", FL_E_JSON_SYNTAX, 1, 4, "invalid literal: expected 'null', found 'L'");
    expect_err("fals", FL_E_JSON_SYNTAX, 1, 5, "expected 'false', found end of input");
    expect_err("-", FL_E_JSON_SYNTAX, 1, 2, "expected a digit after '-'");
    expect_err("01", FL_E_JSON_SYNTAX, 1, 1, "leading zeros are not allowed");
    expect_err("1.", FL_E_JSON_SYNTAX, 1, 3, "expected a digit after '.'");
    expect_err("1e+", FL_E_JSON_SYNTAX, 1, 4, "expected a digit in the exponent");
    expect_err("[1] x", FL_E_JSON_SYNTAX, 1, 5, "expected end of input after the JSON value, found 'x'");
    expect_err("\"abc", FL_E_JSON_SYNTAX, 1, 1, "unterminated string");
    expect_err("\"a\\\"", FL_E_JSON_SYNTAX, 1, 1, "unterminated string");
    expect_err("\"a\tb\"", FL_E_JSON_SYNTAX, 1, 3, "control character U+0009 in string must be escaped");
    expect_err("\"\\x\"", FL_E_JSON_SYNTAX, 1, 2, "invalid escape");
    expect_err("\"\\u12G4\"", FL_E_JSON_SYNTAX, 1, 2, "expected 4 hex digits");
    expect_err("[\x01]", FL_E_JSON_SYNTAX, 1, 2, "found byte 0x01");
    expect_err("\xEF\xBB\xBF{}", FL_E_JSON_SYNTAX, 1, 1, "found a UTF-8 byte order mark (BOM)");
    /* columns count characters: "éé" is 4 characters, x is the 8th */
    expect_err("[\"\xC3\xA9\xC3\xA9\", x]", FL_E_JSON_SYNTAX, 1, 8, "expected a JSON value, found 'x'");
    /* the path of the innermost container is named */
    expect_err("{\"name\":[{\"given\":[\"a\" \"b\"]}]}", FL_E_JSON_SYNTAX, 1, 24, "(in $.name[0].given)");
    fl_json_val *v;
    fl_err err;
    CHECK(parse("{\n\"a\":[1,\n2,,3]}", &v, &err) == FL_E_JSON_SYNTAX);
    CHECK_EQ_INT(err.pos, 12);
    CHECK_EQ_INT(err.line, 3);
    CHECK_EQ_INT(err.col, 3);
    CHECK_EQ_INT(err.code, FL_E_JSON_SYNTAX);
    /* NULL err is fine */
    CHECK(fl_json_parse("[", 1, NULL, &A, &v, NULL, NULL) == FL_E_JSON_SYNTAX);
    CHECK(fl_json_parse(NULL, 1, NULL, &A, &v, NULL, &err) == FL_E_ARG);
    CHECK(fl_json_parse("1", 1, NULL, NULL, &v, NULL, &err) == FL_E_ARG);
    fl_arena_reset(&A);
}

static void test_utf8(void)
{
    fl_json_val *v;
    fl_err err;
    CHECK(parse("\"h\xC3\xA9llo \xE2\x82\xAC \xF0\x9F\x98\x80\"", &v, &err) == FL_OK);
    CHECK_EQ_INT(v->len, 15);
    expect_err("\"a\xC3\"", FL_E_UTF8, 1, 3, "invalid UTF-8 byte 0xC3");
    expect_err("\"\xC0\x80\"", FL_E_UTF8, 1, 2, "invalid UTF-8 byte 0xC0");       /* overlong */
    expect_err("\"\xE0\x80\xAF\"", FL_E_UTF8, 1, 2, "invalid UTF-8");             /* overlong */
    expect_err("\"\xED\xA0\x80\"", FL_E_UTF8, 1, 2, "invalid UTF-8 byte 0xED");   /* surrogate */
    expect_err("\"\xF4\x90\x80\x80\"", FL_E_UTF8, 1, 2, "invalid UTF-8 byte 0xF4"); /* > U+10FFFF */
    expect_err("\"\xF5\"", FL_E_UTF8, 1, 2, "invalid UTF-8");
    expect_err("\"\x80\"", FL_E_UTF8, 1, 2, "invalid UTF-8 byte 0x80");
    /* also after an escape (slow path) and in keys, far into a long string (SIMD path) */
    expect_err("\"\\n\xFF\"", FL_E_UTF8, 1, 4, "invalid UTF-8 byte 0xFF");
    expect_err("{\"k\xFE\":1}", FL_E_UTF8, 1, 4, "invalid UTF-8");
    expect_err("\"0123456789abcdef0123456789\xFF\"", FL_E_UTF8, 1, 28, "invalid UTF-8");
    fl_arena_reset(&A);
}

static void test_escapes_surrogates(void)
{
    fl_json_val *v;
    fl_err err;
    CHECK(parse("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", &v, &err) == FL_OK);
    CHECK_EQ_MEM(v->u.str, v->len, "\"\\/\b\f\n\r\t");
    CHECK(parse("\"\\u0041\\u00e9\\u20AC\\uD83D\\uDE00\"", &v, &err) == FL_OK);
    CHECK_EQ_MEM(v->u.str, v->len, "A\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80");
    CHECK(parse("\"\\uDBFF\\uDFFF\"", &v, &err) == FL_OK);
    CHECK_EQ_MEM(v->u.str, v->len, "\xF4\x8F\xBF\xBF");
    CHECK(parse("\"a\\u0000b\"", &v, &err) == FL_OK);
    CHECK_EQ_INT(v->len, 3);
    CHECK(memcmp(v->u.str, "a\0b", 3) == 0);
    expect_err("\"\\uD800\"", FL_E_JSON_SYNTAX, 1, 2, "lone high surrogate \\uD800");
    expect_err("\"\\uD800\\u0041\"", FL_E_JSON_SYNTAX, 1, 2, "lone high surrogate");
    expect_err("\"\\uD800\\uD800\"", FL_E_JSON_SYNTAX, 1, 2, "lone high surrogate");
    expect_err("\"x\\uDC00\"", FL_E_JSON_SYNTAX, 1, 3, "lone low surrogate \\uDC00");
    expect_err("\"\\uD83D\"", FL_E_JSON_SYNTAX, 1, 2, "expected \\uDC00-\\uDFFF");
    /* keys decode the same way */
    CHECK(parse("{\"\\u0061b\":1}", &v, &err) == FL_OK);
    CHECK(fl_json_get_c(v, "ab") != NULL);
    fl_arena_reset(&A);
}

static void test_zero_copy(void)
{
    fl_json_val *v;
    fl_err err;
    const char *s = "{\"plain\":\"abc\",\"esc\":\"a\\nb\",\"n\":12.5}";
    const char *end = s + strlen(s);
    CHECK(parse(s, &v, &err) == FL_OK);
    const fl_json_val *plain = fl_json_get_c(v, "plain"), *esc = fl_json_get_c(v, "esc"), *n = fl_json_get_c(v, "n");
    CHECK(plain->u.str >= s && plain->u.str < end);                           /* points into input */
    CHECK(v->u.members[0].key.ptr >= s && v->u.members[0].key.ptr < end);
    CHECK(!(esc->u.str >= s && esc->u.str < end));                            /* decoded copy */
    CHECK_EQ_MEM(esc->u.str, esc->len, "a\nb");
    CHECK(n->u.str >= s && n->u.str < end);
    CHECK(parse_opts(s, FL_JSON_COPY_STRINGS, &v, &err) == FL_OK);
    plain = fl_json_get_c(v, "plain");
    n = fl_json_get_c(v, "n");
    CHECK(!(plain->u.str >= s && plain->u.str < end));
    CHECK(!(v->u.members[0].key.ptr >= s && v->u.members[0].key.ptr < end));
    CHECK(!(n->u.str >= s && n->u.str < end));
    CHECK_EQ_MEM(plain->u.str, plain->len, "abc");
    CHECK_EQ_MEM(n->u.str, n->len, "12.5");
    /* with COPY_STRINGS the input may be freed */
    char *heap = strdup("[\"gone\",7]");
    CHECK(parse_opts(heap, FL_JSON_COPY_STRINGS, &v, &err) == FL_OK);
    free(heap);
    CHECK_EQ_MEM(v->u.items[0].u.str, v->u.items[0].len, "gone");
    CHECK_EQ_MEM(v->u.items[1].u.str, v->u.items[1].len, "7");
    fl_arena_reset(&A);
}

static void test_limits(void)
{
    fl_json_val *v;
    fl_err err;
    char deep[600];
    /* 256 levels (the default) pass, 257 fail */
    for (int depth = 256; depth <= 257; depth++) {
        size_t n = 0;
        for (int i = 0; i < depth; i++) deep[n++] = '[';
        for (int i = 0; i < depth; i++) deep[n++] = ']';
        fl_rc rc = fl_json_parse(deep, n, NULL, &A, &v, NULL, &err);
        if (depth == 256) {
            CHECK(rc == FL_OK);
        } else {
            CHECK(rc == FL_E_JSON_DEPTH);
            CHECK_EQ_INT(err.col, 257);
            CHECK(strstr(err.msg, "nesting deeper than 256 levels") != NULL);
        }
    }
    fl_json_opts o = {.max_depth = 2};
    CHECK(fl_json_parse("[[1]]", 5, &o, &A, &v, NULL, &err) == FL_OK);
    CHECK(fl_json_parse("[[[1]]]", 7, &o, &A, &v, NULL, &err) == FL_E_JSON_DEPTH);
    CHECK(fl_json_parse("{\"a\":{\"b\":{}}}", 14, &o, &A, &v, NULL, &err) == FL_E_JSON_DEPTH);
    /* deeper than the on-stack frame array (heap frames) */
    o.max_depth = 1000;
    size_t n = 0;
    for (int i = 0; i < 290; i++) deep[n++] = '[';
    for (int i = 0; i < 290; i++) deep[n++] = ']';
    CHECK(fl_json_parse(deep, n, &o, &A, &v, NULL, &err) == FL_OK);
    const fl_json_val *x = v;
    int levels = 0;
    while (x->type == FL_JSON_ARRAY && x->len) {
        x = &x->u.items[0];
        levels++;
    }
    CHECK_EQ_INT(levels, 289);
    /* max_size */
    fl_json_opts so = {.max_size = 4};
    CHECK(fl_json_parse("[1,2]", 5, &so, &A, &v, NULL, &err) == FL_E_LIMIT);
    CHECK(fl_json_parse("[12]", 4, &so, &A, &v, NULL, &err) == FL_OK);
    /* an arena limit turns into FL_E_NOMEM, never a crash */
    fl_arena small;
    fl_arena_init(&small, 1024, 2048);
    fl_buf big;
    fl_buf_init(&big, 0);
    fl_buf_putc(&big, '[');
    for (int i = 0; i < 2000; i++) fl_buf_append_c(&big, i ? ",1" : "1");
    fl_buf_putc(&big, ']');
    CHECK(fl_json_parse(big.ptr, big.len, NULL, &small, &v, NULL, &err) == FL_E_NOMEM);
    fl_arena_fini(&small);
    /* a large array (more children than the on-stack slot array) */
    CHECK(fl_json_parse(big.ptr, big.len, NULL, &A, &v, NULL, &err) == FL_OK);
    CHECK_EQ_INT(v->len, 2000);
    fl_buf_reset(&big);
    fl_arena_reset(&A);
}

static void test_trailing(void)
{
    fl_json_val *v;
    fl_err err;
    const char *s = "[1] {\"a\":2}  ";
    size_t used = 0;
    fl_json_opts o = {.flags = FL_JSON_ALLOW_TRAILING};
    CHECK(fl_json_parse(s, strlen(s), &o, &A, &v, &used, &err) == FL_OK);
    CHECK_EQ_INT(used, 4);
    CHECK(fl_json_parse(s + used, strlen(s) - used, &o, &A, &v, &used, &err) == FL_OK);
    CHECK(fl_json_is_obj(v));
    CHECK_EQ_INT(used, 9);
    CHECK(fl_json_parse(s, strlen(s), NULL, &A, &v, &used, &err) == FL_E_JSON_SYNTAX);
    fl_arena_reset(&A);
}

static void test_dupkeys(void)
{
    fl_json_val *v;
    fl_err err;
    expect_err("{\"a\":1,\n\"b\":2,\"a\":3}", FL_E_JSON_DUPKEY, 2, 7, "duplicate object key \"a\" (first at line 1, column 2)");
    /* keys compare after decoding */
    expect_err("{\"ab\":1,\"a\\u0062\":2}", FL_E_JSON_DUPKEY, 1, 9, "duplicate object key \"ab\"");
    CHECK(parse("{\"a\":1,\"A\":2,\"a \":3}", &v, &err) == FL_OK);
    /* last wins, at the first position */
    CHECK(parse_opts("{\"a\":1,\"b\":2,\"a\":3,\"c\":4,\"b\":5}", FL_JSON_ALLOW_DUPKEYS, &v, &err) == FL_OK);
    CHECK_EQ_INT(v->len, 3);
    CHECK_EQ_MEM(v->u.members[0].key.ptr, v->u.members[0].key.len, "a");
    CHECK_EQ_MEM(v->u.members[0].val.u.str, v->u.members[0].val.len, "3");
    CHECK_EQ_MEM(v->u.members[1].key.ptr, v->u.members[1].key.len, "b");
    CHECK_EQ_MEM(v->u.members[1].val.u.str, v->u.members[1].val.len, "5");
    CHECK_EQ_MEM(v->u.members[2].key.ptr, v->u.members[2].key.len, "c");
    /* large objects use a hash table: same results */
    fl_buf b;
    fl_buf_init(&b, 0);
    fl_buf_putc(&b, '{');
    for (int i = 0; i < 100; i++) fl_buf_printf(&b, "%s\"k%d\":%d", i ? "," : "", i, i);
    fl_buf_append_c(&b, ",\"k57\":-1}");
    CHECK(parse(b.ptr, &v, &err) == FL_E_JSON_DUPKEY);
    CHECK(strstr(err.msg, "duplicate object key \"k57\"") != NULL);
    CHECK_EQ_INT(err.pos, b.len - 9); /* the quote after the comma */
    CHECK(parse_opts(b.ptr, FL_JSON_ALLOW_DUPKEYS, &v, &err) == FL_OK);
    CHECK_EQ_INT(v->len, 100);
    CHECK_EQ_MEM(v->u.members[57].val.u.str, v->u.members[57].val.len, "-1");
    CHECK_EQ_MEM(v->u.members[99].key.ptr, v->u.members[99].key.len, "k99");
    b.len = b.len - 10;
    fl_buf_putc(&b, '}');
    CHECK(parse(b.ptr, &v, &err) == FL_OK);
    CHECK_EQ_INT(v->len, 100);
    fl_buf_reset(&b);
    fl_arena_reset(&A);
}

/* The duplicate-key pre-check keeps a key-signature set per open object: a nested
 * container must neither leak its keys into its parent nor lose the parent's. */
static void test_dupkeys_nested(void)
{
    fl_json_val *v;
    fl_err err;
    /* inner keys do not count for the outer object */
    CHECK(parse("{\"a\":{\"b\":1,\"c\":[{\"b\":2}]},\"b\":3,\"c\":{}}", &v, &err) == FL_OK);
    CHECK_EQ_INT(v->len, 3);
    /* the outer set survives children (objects and arrays) in between */
    expect_err("{\"a\":1,\"x\":{\"y\":{\"z\":[1,{\"q\":2}]}},\"a\":2}", FL_E_JSON_DUPKEY, 1, 36,
               "duplicate object key \"a\" (first at line 1, column 2)");
    expect_err("[{\"k\":[{}],\"k\":1}]", FL_E_JSON_DUPKEY, 1, 12, "duplicate object key \"k\"");
    /* an inner duplicate is found with the outer object still open */
    expect_err("{\"o\":{\"d\":1,\"d\":2},\"p\":3}", FL_E_JSON_DUPKEY, 1, 13, "duplicate object key \"d\"");
    /* keys with equal signature (length, first and last byte) but different bytes */
    CHECK(parse("{\"abc\":1,\"axc\":2,\"ayc\":3}", &v, &err) == FL_OK);
    CHECK(parse("{\"\":1,\"a\":2}", &v, &err) == FL_OK);
    expect_err("{\"\":1,\"a\":2,\"\":3}", FL_E_JSON_DUPKEY, 1, 13, "duplicate object key \"\"");
    /* random objects of 1..40 keys from a small alphabet against a pairwise reference */
    uint64_t x = 0x2545F4914F6CDD1Dull;
    fl_buf b;
    fl_buf_init(&b, 0);
    int wrong = 0;
    for (int t = 0; t < 3000; t++) {
        fl_buf_clear(&b);
        char keys[40][4];
        int n = 1 + (int)((x >> 7) % 40), dup = 0;
        fl_buf_putc(&b, '{');
        for (int i = 0; i < n; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            int len = 1 + (int)(x % 3);
            for (int k = 0; k < len; k++) keys[i][k] = (char)('a' + (x >> (8 + 4 * k)) % 6);
            keys[i][len] = 0;
            for (int k = 0; k < i; k++) dup |= !strcmp(keys[k], keys[i]);
            fl_buf_printf(&b, "%s\"%s\":%s", i ? "," : "", keys[i], (x >> 40) % 4 ? "1" : "{\"a\":[1]}");
        }
        fl_buf_putc(&b, '}');
        fl_rc rc = parse(b.ptr, &v, &err);
        if ((rc == FL_E_JSON_DUPKEY) != (dup != 0) || (rc != FL_OK && rc != FL_E_JSON_DUPKEY)) wrong++;
        fl_arena_reset(&A);
    }
    CHECK_EQ_INT(wrong, 0);
    fl_buf_reset(&b);
    fl_arena_reset(&A);
}

static const fl_json_val *num(const char *s)
{
    fl_json_val *v = NULL;
    fl_err err;
    CHECK_MSG(parse(s, &v, &err) == FL_OK, "%s: %s", s, err.msg);
    return v;
}

static void test_numbers(void)
{
    int64_t i;
    double d;
    const fl_json_val *v = num("-0");
    CHECK_EQ_MEM(v->u.str, v->len, "-0");
    CHECK(v->flags & FL_JSON_F_INT);
    CHECK(fl_json_as_i64(v, &i) && i == 0);
    CHECK(fl_json_as_f64(v, &d) && d == 0.0 && signbit(d));
    v = num("1.50");
    CHECK_EQ_MEM(v->u.str, v->len, "1.50"); /* FHIR decimals keep their digits */
    CHECK(!(v->flags & FL_JSON_F_INT));
    CHECK(!fl_json_as_i64(v, &i));
    CHECK(fl_json_as_f64(v, &d) && d == 1.5);
    v = num("1e400");
    CHECK_EQ_MEM(v->u.str, v->len, "1e400");
    CHECK(!fl_json_as_f64(v, &d)); /* does not fit a double */
    CHECK(!fl_json_as_i64(v, &i));
    v = num("-1e400");
    CHECK(!fl_json_as_f64(v, &d));
    v = num("1e-400");
    CHECK(fl_json_as_f64(v, &d) && d == 0.0); /* underflow to zero is a value */
    v = num("9223372036854775807");
    CHECK(fl_json_as_i64(v, &i) && i == INT64_MAX);
    v = num("-9223372036854775808");
    CHECK(fl_json_as_i64(v, &i) && i == INT64_MIN);
    v = num("9223372036854775808");
    CHECK(!fl_json_as_i64(v, &i));
    CHECK(fl_json_as_f64(v, &d) && d == 9223372036854775808.0);
    v = num("-9223372036854775809");
    CHECK(!fl_json_as_i64(v, &i));
    v = num("123456789012345678901234567890");
    CHECK_EQ_MEM(v->u.str, v->len, "123456789012345678901234567890");
    CHECK(fl_json_as_f64(v, &d) && d == 123456789012345678901234567890.0);
    v = num("1E2");
    CHECK(fl_json_as_f64(v, &d) && d == 100.0);
    CHECK(!fl_json_as_i64(v, &i)); /* exponent form is not integer text */
    /* fast path and strtod path agree with the C library */
    const char *cases[] = {"0.1", "3.141592653589793", "2.2250738585072014e-308", "4.9e-324", "1.7976931348623157e308",
                           "0.000001", "123456.789e3", "-2.5E-3", "9007199254740993", "1.000000000000000005",
                           "100000000000000000000000", "0.3e1", "1e22", "1e23", "8.98846567431158e307"};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        v = num(cases[k]);
        CHECK_MSG(fl_json_as_f64(v, &d) && d == strtod(cases[k], NULL), "%s -> %.17g", cases[k], d);
    }
    v = num("12");
    CHECK(fl_json_as_i64(v, &i) && i == 12);
    CHECK(!fl_json_as_i64(num("\"12\""), &i));
    CHECK(!fl_json_as_f64(num("true"), &d));
    CHECK(!fl_json_as_f64(NULL, &d));
    fl_arena_reset(&A);
}

static bool eq(const char *a, const char *b)
{
    fl_json_val *x, *y;
    fl_err err;
    CHECK(parse(a, &x, &err) == FL_OK);
    CHECK(parse(b, &y, &err) == FL_OK);
    return fl_json_equal(x, y) && fl_json_equal(y, x);
}

static void test_equal(void)
{
    CHECK(eq("{\"a\":1,\"b\":[1,2]}", "{\"b\":[1,2],\"a\":1}")); /* member order ignored */
    CHECK(!eq("[1,2]", "[2,1]"));                                 /* item order matters */
    CHECK(eq("1", "1.0"));
    CHECK(eq("100", "1e2"));
    CHECK(eq("0.5", "5e-1"));
    CHECK(eq("-0", "0"));
    CHECK(eq("0.0e10", "0"));
    CHECK(eq("12300", "1.23E4"));
    CHECK(!eq("0.1", "0.10000000000000001")); /* exact decimals, not doubles */
    CHECK(!eq("9007199254740993", "9007199254740992"));
    CHECK(!eq("1", "-1"));
    CHECK(!eq("1", "\"1\""));
    CHECK(!eq("{\"a\":1}", "{\"a\":1,\"b\":2}"));
    CHECK(!eq("{\"a\":1,\"c\":2}", "{\"a\":1,\"b\":2}"));
    CHECK(eq("\"a\\u0000b\"", "\"a\\u0000b\""));
    CHECK(!eq("\"a\\u0000b\"", "\"a\\u0000c\""));
    CHECK(eq("[null,true,false,{}]", "[null,true,false,{}]"));
    CHECK(!eq("[true]", "[false]"));
    CHECK(fl_json_equal(NULL, NULL));
    fl_arena_reset(&A);
}

/* ---- allocation failures: every allocation the parser makes may fail, cleanly */

static long alloc_count, alloc_fail_at;
static void *t_malloc(void *ctx, size_t n)
{
    (void)ctx;
    if (++alloc_count == alloc_fail_at) return NULL;
    return malloc(n);
}
static void *t_realloc(void *ctx, void *p, size_t n)
{
    (void)ctx;
    if (++alloc_count == alloc_fail_at) return NULL;
    return realloc(p, n);
}
static void t_free(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

static void test_alloc_failures(void)
{
    /* a document that needs heap slots (>512 children), heap frames (>64 levels), the
     * duplicate-key hash (>24 members), escaped strings and several arena blocks */
    fl_buf doc;
    fl_buf_init(&doc, 0);
    fl_buf_append_c(&doc, "{\"big\":[");
    for (int i = 0; i < 700; i++) fl_buf_printf(&doc, "%s\"s\\n%d\"", i ? "," : "", i);
    fl_buf_append_c(&doc, "],\"obj\":{");
    for (int i = 0; i < 40; i++) fl_buf_printf(&doc, "%s\"k%d\":%d", i ? "," : "", i, i);
    fl_buf_append_c(&doc, "},\"deep\":");
    for (int i = 0; i < 100; i++) fl_buf_putc(&doc, '[');
    for (int i = 0; i < 100; i++) fl_buf_putc(&doc, ']');
    fl_buf_putc(&doc, '}');
    fl_alloc alc = {t_malloc, t_realloc, t_free, NULL};
    fl_json_opts o = {.max_depth = 500};
    int failures = 0;
    bool done = false;
    for (long n = 1; n < 1000 && !done; n++) {
        fl_set_allocator(&alc);
        alloc_count = 0;
        alloc_fail_at = n;
        fl_arena a;
        fl_arena_init(&a, 4096, 0);
        fl_json_val *v = NULL;
        fl_err err;
        fl_rc rc = fl_json_parse(doc.ptr, doc.len, &o, &a, &v, NULL, &err);
        if (rc == FL_OK) {
            CHECK(fl_json_is_obj(v) && v->len == 3);
            done = alloc_count < n; /* no allocation left to fail */
        } else {
            CHECK_MSG(rc == FL_E_NOMEM, "fail at %ld: %s", n, fl_rc_name(rc));
            CHECK(v == NULL);
            failures++;
        }
        fl_arena_fini(&a);
        fl_set_allocator(NULL);
    }
    CHECK(done);
    CHECK(failures >= 5); /* the heap paths really were exercised */
    fl_buf_reset(&doc);
}

int main(void)
{
    fl_arena_init(&A, 0, 0);
    RUN(test_basic_dom);
    RUN(test_errors_positions);
    RUN(test_utf8);
    RUN(test_escapes_surrogates);
    RUN(test_zero_copy);
    RUN(test_limits);
    RUN(test_trailing);
    RUN(test_dupkeys);
    RUN(test_dupkeys_nested);
    RUN(test_numbers);
    RUN(test_equal);
    RUN(test_alloc_failures);
    fl_arena_fini(&A);
    return testhelp_done();
}
