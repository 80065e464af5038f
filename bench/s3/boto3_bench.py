#!/usr/bin/env python3
"""boto3_bench.py - the same upload/download as bench_s3.c with boto3's transfer manager
(s3transfer, the engine behind `aws s3 cp`), as the comparison peer. Test/bench only.

    boto3_bench.py FILES SIZE_MB THREADS [PART_MB]

Uses S3_ENDPOINT, S3_BUCKET, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY from the environment.
THREADS = files in flight (one transfer per thread, like bench_s3); each transfer uses
s3transfer's default 10 part threads.
"""
import io
import os
import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config


def main():
    files, size_mb, threads = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    part = int(sys.argv[4]) if len(sys.argv) > 4 else 8
    size = size_mb << 20
    s3 = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT"], region_name="us-east-1",
                      config=Config(s3={"addressing_style": "path"}, max_pool_connections=64))
    bucket = os.environ["S3_BUCKET"]
    prefix = "boto3-bench-%x" % random.getrandbits(48)
    cfg = TransferConfig(multipart_threshold=part << 20, multipart_chunksize=part << 20)
    data = os.urandom(size)

    def up(i):
        s3.upload_fileobj(io.BytesIO(data), bucket, "%s/file-%04d.bin" % (prefix, i), Config=cfg)

    def down(i):
        buf = io.BytesIO()
        s3.download_fileobj(bucket, "%s/file-%04d.bin" % (prefix, i), buf, Config=cfg)
        if buf.getbuffer().nbytes != size:
            raise RuntimeError("short download")

    mb = size * files / 1e6
    t0 = time.monotonic()
    with ThreadPoolExecutor(threads) as ex:
        list(ex.map(up, range(files)))
    tu = time.monotonic() - t0
    t0 = time.monotonic()
    with ThreadPoolExecutor(threads) as ex:
        list(ex.map(down, range(files)))
    td = time.monotonic() - t0
    print("boto3    upload   %d x %d MB, %d threads, part %d MB: %.2f s, %.1f MB/s" % (files, size_mb, threads, part, tu, mb / tu))
    print("boto3    download %d x %d MB, %d threads: %.2f s, %.1f MB/s" % (files, size_mb, threads, td, mb / td))
    keys = [{"Key": "%s/file-%04d.bin" % (prefix, i)} for i in range(files)]
    s3.delete_objects(Bucket=bucket, Delete={"Objects": keys})


if __name__ == "__main__":
    main()
