#!/usr/bin/env python3
"""A Lambda custom runtime for the runner's tests: speaks the Runtime API, writes each event it
receives as one JSON line to $WORKER_OUT/<function name>.jsonl, and answers:
- SQS batches: a partial-batch response listing the messages whose body starts with "fail";
- {"sleep": N}: sleeps N seconds first (for the timeout);
- any other event: {"ok": true}.
"""
import json
import os
import time
import urllib.request

api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
out = os.path.join(os.environ["WORKER_OUT"], os.environ["AWS_LAMBDA_FUNCTION_NAME"] + ".jsonl")

while True:
    with urllib.request.urlopen(api + "next") as r:
        request_id = r.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(r.read())
    with open(out, "a", encoding="utf-8") as f:
        f.write(json.dumps(event) + "\n")
    if isinstance(event, dict) and "sleep" in event:
        time.sleep(event["sleep"])
    records = event.get("Records") if isinstance(event, dict) else None
    if records and records[0].get("eventSource") == "aws:sqs":
        failed = [{"itemIdentifier": m["messageId"]} for m in records if m["body"].startswith("fail")]
        answer = {"batchItemFailures": failed}
    else:
        answer = {"ok": True}
    body = json.dumps(answer).encode()
    urllib.request.urlopen(urllib.request.Request(api + request_id + "/response", data=body, method="POST")).read()
