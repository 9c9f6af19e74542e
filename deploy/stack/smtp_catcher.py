"""The local stack's SMTP catcher: aiosmtpd's Maildir handler, plus one rule.

Every message lands as one file in the Maildir given on the command line, as
with aiosmtpd.handlers.Mailbox. A recipient whose local part starts with
"bounce" is refused at RCPT with 550 5.1.1, the hard bounce of a mailbox that
does not exist, so that the worker's handling of hard bounces (it puts the
address on the tenant's suppression list) can be exercised against a real SMTP
exchange. Started by deploy/stack/services.sh as

    python3 -m aiosmtpd -n -l HOST:PORT -c smtp_catcher.Catcher MAILDIR

with this folder on PYTHONPATH.
"""
from aiosmtpd.handlers import Mailbox

BOUNCE_PREFIX = "bounce"


class Catcher(Mailbox):
    """Mailbox that refuses the designated recipients as unknown mailboxes."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.rsplit("@", 1)[0].lower()
        if local.startswith(BOUNCE_PREFIX):
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"
