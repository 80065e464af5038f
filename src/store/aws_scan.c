/* aws_scan.c - small bounded scanners for the few XML and JSON shapes AWS returns
 * (module store). S3 answers in XML (ListBucketResult, Error, DeleteResult,
 * InitiateMultipartUploadResult), STS in XML, IMDS and the container endpoint in flat JSON.
 * store may not depend on the json module (same layer), and a general XML parser would be
 * far more than needed: these functions find named elements / members, decode entities and
 * escapes, and never read past the given length or write past the given capacity. */
#include "store/s3_int.h"

#include <stdio.h>

/* ------------------------------------------------------------------ XML */

static const char *find_bytes(const char *hay, size_t hn, const char *needle, size_t nn)
{
    if (nn == 0 || hn < nn) return NULL;
    for (size_t i = 0; i + nn <= hn; i++) {
        if (hay[i] == needle[0] && memcmp(hay + i, needle, nn) == 0) return hay + i;
    }
    return NULL;
}

bool aws_xml_next(fl_str xml, size_t *pos, const char *tag, fl_str *inner)
{
    size_t tlen = strlen(tag);
    if (tlen == 0 || tlen > 128) return false;
    char open[132], close[134];
    open[0] = '<';
    memcpy(open + 1, tag, tlen);
    close[0] = '<';
    close[1] = '/';
    memcpy(close + 2, tag, tlen);
    close[tlen + 2] = '>';
    size_t i = *pos;
    while (i < xml.len) {
        const char *p = find_bytes(xml.ptr + i, xml.len - i, open, tlen + 1);
        if (!p) return false;
        size_t at = (size_t)(p - xml.ptr) + tlen + 1;
        if (at >= xml.len) return false;
        char c = xml.ptr[at];
        if (c != '>' && c != ' ' && c != '/' && c != '\t' && c != '\n' && c != '\r') {
            i = at; /* a longer tag name with the same prefix */
            continue;
        }
        const char *gt = memchr(xml.ptr + at, '>', xml.len - at);
        if (!gt) return false;
        size_t body = (size_t)(gt - xml.ptr) + 1;
        if (gt > xml.ptr + at && gt[-1] == '/') { /* <Tag/> */
            *inner = fl_str_make(xml.ptr + body, 0);
            *pos = body;
            return true;
        }
        const char *end = find_bytes(xml.ptr + body, xml.len - body, close, tlen + 3);
        if (!end) return false;
        *inner = fl_str_make(xml.ptr + body, (size_t)(end - (xml.ptr + body)));
        *pos = (size_t)(end - xml.ptr) + tlen + 3;
        return true;
    }
    return false;
}

/* Decode XML character data (entities, CDATA) into b. */
static bool xml_decode(fl_str s, fl_buf *b)
{
    size_t i = 0;
    while (i < s.len) {
        char c = s.ptr[i];
        if (c == '<' && s.len - i >= 9 && memcmp(s.ptr + i, "<![CDATA[", 9) == 0) {
            const char *e = find_bytes(s.ptr + i + 9, s.len - i - 9, "]]>", 3);
            if (!e) return false;
            fl_buf_append(b, s.ptr + i + 9, (size_t)(e - (s.ptr + i + 9)));
            i = (size_t)(e - s.ptr) + 3;
            continue;
        }
        if (c != '&') {
            fl_buf_putc(b, c);
            i++;
            continue;
        }
        const char *semi = memchr(s.ptr + i, ';', s.len - i < 12 ? s.len - i : 12);
        if (!semi) return false;
        fl_str ent = fl_str_make(s.ptr + i + 1, (size_t)(semi - (s.ptr + i + 1)));
        if (fl_str_eq_c(ent, "amp"))
            fl_buf_putc(b, '&');
        else if (fl_str_eq_c(ent, "lt"))
            fl_buf_putc(b, '<');
        else if (fl_str_eq_c(ent, "gt"))
            fl_buf_putc(b, '>');
        else if (fl_str_eq_c(ent, "quot"))
            fl_buf_putc(b, '"');
        else if (fl_str_eq_c(ent, "apos"))
            fl_buf_putc(b, '\'');
        else if (ent.len >= 2 && ent.ptr[0] == '#') {
            uint32_t cp = 0;
            bool hex = ent.ptr[1] == 'x' || ent.ptr[1] == 'X';
            size_t k = hex ? 2 : 1;
            if (k >= ent.len) return false;
            for (; k < ent.len; k++) {
                char d = ent.ptr[k];
                uint32_t v;
                if (d >= '0' && d <= '9')
                    v = (uint32_t)(d - '0');
                else if (hex && d >= 'a' && d <= 'f')
                    v = (uint32_t)(d - 'a' + 10);
                else if (hex && d >= 'A' && d <= 'F')
                    v = (uint32_t)(d - 'A' + 10);
                else
                    return false;
                cp = cp * (hex ? 16u : 10u) + v;
                if (cp > 0x10FFFF) return false;
            }
            char u[4];
            size_t n = fl_utf8_encode(cp, u);
            fl_buf_append(b, u, n);
        } else {
            return false;
        }
        i = (size_t)(semi - s.ptr) + 1;
    }
    return b->rc == FL_OK;
}

bool aws_xml_text(fl_str xml, const char *tag, fl_buf *out)
{
    size_t pos = 0;
    fl_str inner;
    fl_buf_clear(out);
    if (!aws_xml_next(xml, &pos, tag, &inner)) return false;
    return xml_decode(inner, out);
}

bool aws_xml_text_c(fl_str xml, const char *tag, char *out, size_t cap)
{
    fl_buf b;
    fl_buf_init(&b, 1u << 20);
    bool ok = aws_xml_text(xml, tag, &b);
    if (ok && cap) {
        size_t n = b.len < cap - 1 ? b.len : cap - 1;
        if (n) memcpy(out, b.ptr, n);
        out[n] = 0;
    } else if (cap) {
        out[0] = 0;
    }
    fl_buf_reset(&b);
    return ok;
}

fl_rc aws_xml_escape(fl_buf *b, fl_str s)
{
    for (size_t i = 0; i < s.len; i++) {
        char c = s.ptr[i];
        switch (c) {
        case '&':
            fl_buf_append_c(b, "&amp;");
            break;
        case '<':
            fl_buf_append_c(b, "&lt;");
            break;
        case '>':
            fl_buf_append_c(b, "&gt;");
            break;
        case '"':
            fl_buf_append_c(b, "&quot;");
            break;
        case '\'':
            fl_buf_append_c(b, "&apos;");
            break;
        case '\r':
            fl_buf_append_c(b, "&#13;");
            break;
        case '\n':
            fl_buf_append_c(b, "&#10;");
            break;
        case '\t':
            fl_buf_append_c(b, "&#9;");
            break;
        default:
            fl_buf_putc(b, c);
            break;
        }
    }
    return b->rc;
}

/* ------------------------------------------------------------------ JSON */

typedef struct jscan {
    const char *p, *end;
} jscan;

static void js_ws(jscan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Parse a JSON string at s->p (which is '"'); decode into out (cap incl. NUL) when out is
 * non-NULL. false on malformed input or when the value does not fit. */
static bool js_string(jscan *s, char *out, size_t cap, size_t *outlen)
{
    size_t n = 0;
    if (s->p >= s->end || *s->p != '"') return false;
    s->p++;
    while (s->p < s->end) {
        char c = *s->p++;
        if (c == '"') {
            if (out) out[n] = 0;
            if (outlen) *outlen = n;
            return true;
        }
        char u[4];
        size_t ul = 1;
        u[0] = c;
        if ((unsigned char)c < 0x20) return false;
        if (c == '\\') {
            if (s->p >= s->end) return false;
            char e = *s->p++;
            switch (e) {
            case '"':
            case '\\':
            case '/':
                u[0] = e;
                break;
            case 'b':
                u[0] = '\b';
                break;
            case 'f':
                u[0] = '\f';
                break;
            case 'n':
                u[0] = '\n';
                break;
            case 'r':
                u[0] = '\r';
                break;
            case 't':
                u[0] = '\t';
                break;
            case 'u': {
                uint32_t cp = 0;
                if (s->end - s->p < 4) return false;
                for (int k = 0; k < 4; k++) {
                    int h = hexval(s->p[k]);
                    if (h < 0) return false;
                    cp = cp * 16 + (uint32_t)h;
                }
                s->p += 4;
                if (cp >= 0xD800 && cp <= 0xDBFF) { /* surrogate pair */
                    uint32_t lo = 0;
                    if (s->end - s->p < 6 || s->p[0] != '\\' || s->p[1] != 'u') return false;
                    for (int k = 0; k < 4; k++) {
                        int h = hexval(s->p[2 + k]);
                        if (h < 0) return false;
                        lo = lo * 16 + (uint32_t)h;
                    }
                    if (lo < 0xDC00 || lo > 0xDFFF) return false;
                    s->p += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                    return false;
                }
                ul = fl_utf8_encode(cp, u);
                break;
            }
            default:
                return false;
            }
        }
        if (out) {
            if (n + ul >= cap) return false;
            memcpy(out + n, u, ul);
        }
        n += ul;
    }
    return false;
}

/* Skip one JSON value (bounded nesting). */
static bool js_skip(jscan *s, int depth)
{
    if (depth > 32) return false;
    js_ws(s);
    if (s->p >= s->end) return false;
    char c = *s->p;
    if (c == '"') return js_string(s, NULL, 0, NULL);
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        s->p++;
        js_ws(s);
        if (s->p < s->end && *s->p == close) {
            s->p++;
            return true;
        }
        for (;;) {
            if (c == '{') {
                js_ws(s);
                if (!js_string(s, NULL, 0, NULL)) return false;
                js_ws(s);
                if (s->p >= s->end || *s->p != ':') return false;
                s->p++;
            }
            if (!js_skip(s, depth + 1)) return false;
            js_ws(s);
            if (s->p >= s->end) return false;
            if (*s->p == ',') {
                s->p++;
                continue;
            }
            if (*s->p == close) {
                s->p++;
                return true;
            }
            return false;
        }
    }
    /* number, true, false, null */
    const char *st = s->p;
    while (s->p < s->end && *s->p != ',' && *s->p != '}' && *s->p != ']' && *s->p != ' ' && *s->p != '\n' &&
           *s->p != '\r' && *s->p != '\t')
        s->p++;
    return s->p > st;
}

bool aws_json_str(fl_str json, const char *key, char *out, size_t cap)
{
    jscan s = {json.ptr, json.ptr + json.len};
    char name[128];
    js_ws(&s);
    if (s.p >= s.end || *s.p != '{') return false;
    s.p++;
    js_ws(&s);
    if (s.p < s.end && *s.p == '}') return false;
    for (;;) {
        js_ws(&s);
        size_t nlen = 0;
        bool name_ok = true;
        jscan save = s;
        if (!js_string(&s, name, sizeof name, &nlen)) {
            s = save; /* name too long for our buffer: skip it, it is not ours */
            if (!js_string(&s, NULL, 0, NULL)) return false;
            name_ok = false;
        }
        js_ws(&s);
        if (s.p >= s.end || *s.p != ':') return false;
        s.p++;
        js_ws(&s);
        if (name_ok && nlen == strlen(key) && memcmp(name, key, nlen) == 0) {
            if (s.p >= s.end || *s.p != '"') return false;
            return js_string(&s, out, cap, NULL);
        }
        if (!js_skip(&s, 0)) return false;
        js_ws(&s);
        if (s.p >= s.end) return false;
        if (*s.p == ',') {
            s.p++;
            continue;
        }
        return false; /* '}' without the key, or junk */
    }
}
