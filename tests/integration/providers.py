"""Access to the provider test doubles (loadtest/doubles) for the worker's tests."""
import json
import os
import urllib.request

from harness import Stack, _required_env, purge_queues, started

CONTROL = _required_env("WAVECOM_TEST_DOUBLES_CONTROL")


def worker_env():
    """The worker's provider configuration pointing at the doubles."""
    return {
        "WAVECOM_TWILIO_URL": _required_env("WAVECOM_TEST_TWILIO_URL"),
        "WAVECOM_TWILIO_ACCOUNT_SID": _required_env("WAVECOM_TEST_TWILIO_SID"),
        "WAVECOM_TWILIO_AUTH_TOKEN": _required_env("WAVECOM_TEST_TWILIO_TOKEN"),
        "WAVECOM_TWILIO_FROM": "+15005550006",
        "WAVECOM_FCM_URL": _required_env("WAVECOM_TEST_FCM_URL"),
        "WAVECOM_FCM_SERVICE_ACCOUNT_FILE": _required_env("WAVECOM_TEST_FCM_SERVICE_ACCOUNT"),
        "WAVECOM_APNS_URL": _required_env("WAVECOM_TEST_APNS_URL"),
        "WAVECOM_APNS_KEY_FILE": _required_env("WAVECOM_TEST_APNS_KEY"),
        "WAVECOM_APNS_KEY_ID": _required_env("WAVECOM_TEST_APNS_KEY_ID"),
        "WAVECOM_APNS_TEAM_ID": _required_env("WAVECOM_TEST_APNS_TEAM_ID"),
        "WAVECOM_APNS_TOPIC": "com.wavecom.test",
        "WAVECOM_PROVIDER_CA_FILE": _required_env("WAVECOM_TEST_PROVIDER_CA"),
        "WAVECOM_WEBHOOK_ALLOW_HTTP": "1",
    }


WEBHOOK_URL = os.environ.get("WAVECOM_TEST_WEBHOOK_URL", "")


def _call(method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(CONTROL + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        raw = resp.read()
        return json.loads(raw) if raw else None


def configure(provider, **settings):
    """Sets a double's behaviour: latency_ms, failure_rate, failure_kind, down, fail_first_n."""
    base = {"latency_ms": 0, "latency_jitter_ms": 0, "failure_rate": 0.0, "failure_kind": "503",
            "down": False, "fail_first_n": 0}
    base.update(settings)
    return _call("POST", f"/_control/{provider}/config", base)


def reset():
    _call("POST", "/_control/reset")
    for provider in ("twilio", "fcm", "apns", "webhook"):
        configure(provider)


def stats(ids=False):
    return _call("GET", "/_control/stats" + ("?ids=1" if ids else ""))


def last(provider, n=10):
    return _call("GET", f"/_control/{provider}/last?n={n}")


def register_webhook_secret(prefix, secret):
    return _call("POST", "/_control/webhook/secrets", {"prefix": prefix, "secret": secret})


def register_tenant_webhooks(stack, tenant, name):
    """Lets the webhook double check the signatures of `tenant`'s webhooks sent under
    /NAME-TENANT and /gone/TENANT (the address the double answers 410 at); returns the first."""
    secret = stack.db.tenants.find_one({"_id": tenant})["webhookSecret"]
    prefix = f"/{name}-{tenant}"
    register_webhook_secret(prefix, secret)
    register_webhook_secret(f"/gone/{tenant}", secret)
    return prefix


def started_stack(workers=1, **settings):
    """Empty queues, the doubles reset, an API and a worker pool sending to the doubles with
    `settings` (WAVECOM_* variables) on top, and a sender's tenant and key: (stack, tenant, key)."""
    purge_queues()
    reset()
    stack = started(Stack(workers=workers, env=dict(worker_env(), **settings)), worker=True)
    tenant, key = stack.new_tenant_key()
    return stack, tenant, key
