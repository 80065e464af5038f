#!/usr/bin/env python3
"""s3_sigv4_vectors.py - SigV4 test vectors for fhirlake's S3 signer, produced by botocore.

Test-only peer (never used by the product). For a fixed set of S3 requests (unicode and
reserved characters in keys, query strings, session tokens, empty bodies, unsigned payload,
repeated and padded header values, path-style hosts with ports, a fixed timestamp) botocore's
S3SigV4Auth signs the request and we record its canonical request and Authorization header.

    s3_sigv4_vectors.py OUT            write the vectors to OUT
    s3_sigv4_vectors.py --check FILE   regenerate and compare with FILE (exit 1 on a difference)

The checked-in copy is tests/unit/store/s3_sigv4_vectors.txt, read by test_aws_sigv4.c.
Format: one "field value" per line, blocks from "case NAME" to "end"; values escape bytes
<= 0x20, >= 0x7f and '%' as %XX so keys with spaces, newlines and UTF-8 survive.
"""
import datetime
import hashlib
import sys
from unittest import mock

import botocore
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.utils import percent_encode

AKID = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQD+session+token/with=chars"
T0 = datetime.datetime(2024, 8, 20, 12, 34, 56, tzinfo=datetime.timezone.utc)

EMPTY = hashlib.sha256(b"").hexdigest()


def case(name, method, host, bucket_path, key, query=(), headers=(), body=b"", token=None,
         region="eu-west-1", unsigned=False, scheme="https"):
    return dict(name=name, method=method, host=host, bucket_path=bucket_path, key=key,
                query=list(query), headers=list(headers), body=body, token=token, region=region,
                unsigned=unsigned, scheme=scheme)


CASES = [
    case("put_if_none_match", "PUT", "bucket.s3.eu-west-1.amazonaws.com", "",
         "tbl/_delta_log/00000000000000000000.json",
         headers=[("If-None-Match", "*"), ("Content-Type", "application/json")], body=b'{"add":{}}\n'),
    case("put_space_plus", "PUT", "bucket.s3.eu-west-1.amazonaws.com", "", "a b+c/d e.parquet",
         headers=[("Content-Type", "application/octet-stream")], body=b"PAR1"),
    case("reserved_chars", "GET", "bucket.s3.us-east-1.amazonaws.com", "",
         "r/!$&'()*,;=:@[]#?%~^`{}|\\\"<>.txt", region="us-east-1"),
    case("unicode_key", "GET", "bucket.s3.eu-west-1.amazonaws.com", "",
         "data/\u00e9t\u00e9/\u65e5\u672c\u8a9e/\U0001F600.json", headers=[("Range", "bytes=0-99")]),
    case("list_v2_token", "GET", "bucket.s3.eu-west-1.amazonaws.com", "", "",
         query=[("list-type", "2"), ("prefix", "tbl/_delta_log/"),
                ("start-after", "tbl/_delta_log/00000000000000000009.json"),
                ("continuation-token", "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM="),
                ("max-keys", "2"), ("encoding-type", "url")],
         token=TOKEN),
    case("list_unicode_prefix", "GET", "127.0.0.1:9000", "/bucket", "",
         query=[("list-type", "2"), ("prefix", "caf\u00e9 au lait/+x/"), ("delimiter", "/")],
         region="us-east-1", scheme="http"),
    case("multipart_create", "POST", "bucket.s3.eu-west-1.amazonaws.com", "", "big/part file.parquet",
         query=[("uploads", "")], token=TOKEN),
    case("multipart_part_unsigned", "PUT", "bucket.s3.eu-west-1.amazonaws.com", "", "big/part file.parquet",
         query=[("partNumber", "3"), ("uploadId", "VXBsb2FkIElE+/=x")], body=b"x" * 1000, unsigned=True),
    case("multipart_complete", "POST", "bucket.s3.eu-west-1.amazonaws.com", "", "big/part file.parquet",
         query=[("uploadId", "VXBsb2FkIElE+/=x")], headers=[("If-None-Match", "*")],
         body=b"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>\"e\"</ETag></Part>"
              b"</CompleteMultipartUpload>"),
    case("delete_objects_md5", "POST", "127.0.0.1:9000", "/bucket", "",
         query=[("delete", "")],
         headers=[("Content-MD5", "1B2M2Y8AsgTpgAmY7PhCfg=="), ("Content-Type", "application/xml")],
         body=b"<Delete><Quiet>true</Quiet><Object><Key>a</Key></Object></Delete>", region="us-east-1",
         scheme="http"),
    case("path_style_port", "HEAD", "localhost:4566", "/my.bucket", "dir/file.json", region="us-east-1",
         scheme="http"),
    case("padded_headers", "PUT", "bucket.s3.ap-southeast-2.amazonaws.com", "", "k",
         headers=[("X-Amz-Meta-Note", "  two   spaces\tand tab  "), ("x-amz-meta-b", "B"),
                  ("Content-Type", "text/plain")],
         body=b"hello", token=TOKEN, region="ap-southeast-2"),
    case("double_slash_dot", "GET", "bucket.s3.eu-west-1.amazonaws.com", "", "a//b/./c/../d"),
    case("query_sorting", "GET", "bucket.s3.eu-west-1.amazonaws.com", "", "",
         query=[("prefix", "Z"), ("list-type", "2"), ("a-b", "1"), ("a_b", "2"), ("A", "3"),
                ("max-keys", "1000"), ("x", "a b&c=d/e~f")]),
    case("empty_body_delete", "DELETE", "bucket.s3.eu-west-1.amazonaws.com", "", "tmp/\n newline key",
         query=[("uploadId", "abc")], token=TOKEN),
]


def esc(v):
    if isinstance(v, str):
        v = v.encode("utf-8")
    out = []
    for b in v:
        if b <= 0x20 or b >= 0x7F or b == 0x25:
            out.append("%%%02X" % b)
        else:
            out.append(chr(b))
    return "".join(out)


class Capture(S3SigV4Auth):
    canonical = None

    def canonical_request(self, request):
        cr = super().canonical_request(request)
        self.canonical = cr
        return cr


def sign(c):
    creds = Credentials(AKID, SECRET, c["token"])
    raw_path = c["bucket_path"] + "/" + c["key"]
    url = "%s://%s%s" % (c["scheme"], c["host"], percent_encode(raw_path, safe="/~"))
    req = AWSRequest(method=c["method"], url=url, data=c["body"], params=c["query"] or None,
                     headers=dict(c["headers"]))
    req.headers["Host"] = c["host"]
    if c["unsigned"]:
        req.context["client_config"] = Config(s3={"payload_signing_enabled": False})
    auth = Capture(creds, "s3", c["region"])
    with mock.patch("botocore.auth.get_current_datetime", return_value=T0):
        auth.add_auth(req)
    payload = req.headers["X-Amz-Content-SHA256"]
    if not c["unsigned"]:
        assert payload == hashlib.sha256(c["body"]).hexdigest(), c["name"]
    return raw_path, payload, auth.canonical, req.headers["Authorization"]


def render():
    lines = ["# s3_sigv4_vectors.txt - generated by tests/interop/s3_sigv4_vectors.py; do not edit.",
             "# oracle: botocore %s S3SigV4Auth" % botocore.__version__]
    for c in CASES:
        raw_path, payload, canon, authz = sign(c)
        lines.append("case " + c["name"])
        lines.append("method " + c["method"])
        lines.append("host " + esc(c["host"]))
        lines.append("path " + esc(raw_path))
        for n, v in c["query"]:
            lines.append("query %s %s" % (esc(n), esc(v)))
        for n, v in c["headers"]:
            lines.append("header %s %s" % (esc(n), esc(v)))
        lines.append("payload " + payload)
        lines.append("region " + c["region"])
        lines.append("akid " + AKID)
        lines.append("secret " + esc(SECRET))
        if c["token"]:
            lines.append("token " + esc(c["token"]))
        lines.append("time %d" % int(T0.timestamp()))
        lines.append("canonical " + esc(canon))
        lines.append("authorization " + esc(authz))
        lines.append("end")
    return "\n".join(lines) + "\n"


def body(text):
    return [l for l in text.splitlines() if not l.startswith("#")]


def main(argv):
    text = render()
    if len(argv) == 3 and argv[1] == "--check":
        with open(argv[2], encoding="utf-8") as f:
            old = f.read()
        if body(old) != body(text):
            for a, b in zip(body(old), body(text)):
                if a != b:
                    sys.stderr.write("differs:\n  checked-in: %s\n  botocore:   %s\n" % (a, b))
                    break
            sys.stderr.write("s3_sigv4_vectors: %s is not what botocore %s produces now\n"
                             % (argv[2], botocore.__version__))
            return 1
        print("s3_sigv4_vectors: %d cases match botocore %s" % (len(CASES), botocore.__version__))
        return 0
    if len(argv) == 2:
        with open(argv[1], "w", encoding="utf-8") as f:
            f.write(text)
        print("s3_sigv4_vectors: wrote %d cases" % len(CASES))
        return 0
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
