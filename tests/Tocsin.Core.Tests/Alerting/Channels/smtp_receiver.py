#!/usr/bin/python3
"""A real SMTP server for Tocsin's email channel tests (Debian's python3-aiosmtpd).

Usage: smtp_receiver.py --port N --folder DIR [--mode none|starttls|tls] [--cert PEM --key PEM] [--user NAME]
The password for --user is read from the environment variable TOCSIN_TEST_SMTP_PASSWORD.

Each accepted message is saved as DIR/<n>.json: {"from", "to": [...], "login": str|null, "starttls": bool,
"mode", "data": "<the message as received>"}. Recipients starting with "tempfail" get 451, "reject" 550.
Prints "READY <port>" on stdout once listening; stops when stdin closes.
"""
import argparse
import json
import os
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Saver:
    def __init__(self, folder, mode):
        self.folder = folder
        self.mode = mode
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("tempfail"):
            return "451 4.3.0 Mailbox temporarily unavailable, try again later"
        if address.startswith("reject"):
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        auth = getattr(session, "auth_data", None)
        login = auth.login.decode("utf-8", "replace") if isinstance(auth, LoginPassword) else None
        record = {
            "from": envelope.mail_from,
            "to": list(envelope.rcpt_tos),
            "login": login,
            "starttls": session.ssl is not None,
            "mode": self.mode,
            "data": envelope.original_content.decode("utf-8", "replace"),
        }
        tmp = os.path.join(self.folder, "%d.tmp" % self.count)
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(self.folder, "%d.json" % self.count))
        return "250 Message accepted for delivery"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--folder", required=True)
    p.add_argument("--mode", choices=["none", "starttls", "tls"], default="none")
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--user")
    a = p.parse_args()

    context = None
    if a.mode != "none":
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(a.cert, a.key)

    kwargs = {}
    if a.user:
        password = os.environ.get("TOCSIN_TEST_SMTP_PASSWORD", "")

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (isinstance(auth_data, LoginPassword)
                  and auth_data.login.decode() == a.user and auth_data.password.decode() == password)
            return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

        kwargs.update(authenticator=authenticator, auth_required=True,
                      # aiosmtpd only counts STARTTLS as TLS; implicit TLS is encrypted too.
                      auth_require_tls=(a.mode != "tls"))
    if a.mode == "starttls":
        kwargs.update(tls_context=context, require_starttls=True)

    controller = Controller(Saver(a.folder, a.mode), hostname="127.0.0.1", port=a.port,
                            ssl_context=context if a.mode == "tls" else None, server_hostname="localhost", **kwargs)
    controller.start()
    print("READY %d" % a.port, flush=True)
    try:
        sys.stdin.read()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
