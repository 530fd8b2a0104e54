"""An agent this repository's local stack did not write: a separate process, standard library HTTP,
written from the agent protocol alone. It double-base64s its transactions, groups a `pay(pay)void`
app call with the payment, uses integer job ids, and verifies payments through algod.

    python foreign_agent.py --port 5900 --algod http://127.0.0.1:4001 --address ADDR --app-id 7 --price 250000
"""

from __future__ import annotations

import argparse
import base64
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from algosdk import abi, encoding, transaction
from algosdk.v2client.algod import AlgodClient

JOBS: dict[int, dict] = {}
LOCK = threading.Lock()


def make_handler(args: argparse.Namespace) -> type[BaseHTTPRequestHandler]:
    algod = AlgodClient("", args.algod)
    selector = abi.Method.from_signature("pay(pay)void").get_selector()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: object) -> None:
            pass

        def reply(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def body(self) -> dict:
            return json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")

        def do_POST(self) -> None:
            if self.path == "/start_job":
                request = self.body()
                params = algod.suggested_params()
                params.flat_fee, params.fee = True, 1000
                call = transaction.ApplicationNoOpTxn(
                    request["sender_address"], params, args.app_id, [selector]
                )
                pay = transaction.PaymentTxn(request["sender_address"], params, args.address, args.price)
                transaction.assign_group_id([call, pay])
                with LOCK:
                    job_id = len(JOBS) + 1
                    JOBS[job_id] = {
                        "input": request["job_input"],
                        "txids": [call.get_txid(), pay.get_txid()],
                        "status": "waiting_payment",
                        "token": None,
                        "created": time.time(),
                    }
                twice = [base64.b64encode(encoding.msgpack_encode(t).encode()).decode() for t in (call, pay)]
                self.reply(
                    200,
                    {
                        "job_id": job_id,
                        "unsigned_group_txns": twice,
                        "txn_ids": JOBS[job_id]["txids"],
                        "payment_required": args.price,
                    },
                )
            elif self.path == "/submit_payment":
                request = self.body()
                job = JOBS.get(int(request["job_id"]))
                if job is None:
                    return self.reply(404, {"status": "error", "message": "no such job"})
                if sorted(request["txid"]) != sorted(job["txids"]):
                    return self.reply(400, {"status": "error", "message": "wrong transactions"})
                for txid in request["txid"]:
                    info = algod.pending_transaction_info(txid)
                    if not isinstance(info, dict) or not info.get("confirmed-round"):
                        return self.reply(402, {"status": "error", "message": "not confirmed"})
                job["token"] = uuid.uuid4().hex
                job["status"] = "processing"
                threading.Timer(0.5, lambda: job.update(status="succeeded")).start()
                self.reply(200, {"status": "success", "access_token": job["token"]})
            else:
                self.reply(404, {"status": "error", "message": "not found"})

        def do_GET(self) -> None:
            url = urlparse(self.path)
            parts = url.path.strip("/").split("/")
            if len(parts) != 2 or parts[0] != "job" or not parts[1].isdigit() or int(parts[1]) not in JOBS:
                return self.reply(404, {"status": "error", "message": "no such job"})
            job = JOBS[int(parts[1])]
            if parse_qs(url.query).get("access_token", [None])[0] != job["token"]:
                return self.reply(403, {"status": "error", "message": "bad token"})
            output = (
                f"A short verse about {job['input']}: rain on the roof, a quiet proof."
                if job["status"] == "succeeded"
                else None
            )
            self.reply(
                200,
                {
                    "job_id": int(parts[1]),
                    "status": job["status"],
                    "output": output,
                    "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(job["created"])),
                },
            )

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--algod", required=True)
    parser.add_argument("--address", required=True)
    parser.add_argument("--app-id", type=int, required=True)
    parser.add_argument("--price", type=int, required=True)
    args = parser.parse_args()
    ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(args)).serve_forever()


if __name__ == "__main__":
    main()
