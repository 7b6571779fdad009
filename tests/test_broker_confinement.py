"""The attacks of issue 14 on a real Mosquitto run from deploy/'s files (tests/test_deploy.py's
`ProductionMosquitto`): a gateway cannot disturb the others.

* four intruding ``$share/ingest/…`` subscriptions by gw-a are refused at SUBSCRIBE time, and
  ingest still receives every one of gw-b's 40 batches (with the ACL file it got 8 of 40);
* a gateway connecting with ingest's client id does not take over ingest's session;
* a gateway cannot log in on the services' plain listener;
* a gateway made by ``indeklima gateway provision`` can publish its own topics and nothing else.
"""

from __future__ import annotations

import queue
from collections.abc import Iterator

import pytest

from cloud.broker import BrokerError, gateway_acls, provision_commands
from edge.wire import INGEST_SUBSCRIPTION, ack_topic, readings_topic, status_topic
from tests.test_deploy import (
    NOT_AUTHORIZED,
    TIMEOUT_S,
    ProductionMosquitto,
    _missing_tools,
    connect,
    password,
)

pytestmark = pytest.mark.servers
NO_SUBSCRIBERS = 0x10
"""PUBACK reason: accepted, but nobody subscribes to it (allowed, unlike 0x87)."""


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProductionMosquitto]:
    missing = _missing_tools()
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed: apt-get install -y mosquitto openssl")
    with ProductionMosquitto(tmp_path_factory.mktemp("mosquitto")) as server:
        yield server


def _drain(box: queue.Queue[tuple[str, bytes]], count: int) -> list[bytes]:
    got = []
    while len(got) < count:
        try:
            got.append(box.get(timeout=TIMEOUT_S)[1])
        except queue.Empty:
            break
    return got


def test_intruding_shared_subscriptions_are_refused_and_nothing_is_lost(
    broker: ProductionMosquitto,
) -> None:
    payloads = [f"gw-b batch {i}".encode() for i in range(40)]
    with connect(broker, "ingest", (INGEST_SUBSCRIPTION,), client_id="ingest-1") as ingest:
        assert ingest.granted == [1]
        intrusions = (INGEST_SUBSCRIPTION,) * 4
        with connect(broker, "gw-a", intrusions) as intruder:
            assert intruder.granted == [NOT_AUTHORIZED] * 4
            with connect(broker, "gw-b") as victim:
                for payload in payloads:
                    assert victim.publish(readings_topic("gw-b"), payload) == 0
            got = _drain(ingest.messages, len(payloads))
            assert intruder.messages.empty()
    assert got == payloads, f"ingest received {len(got)} of {len(payloads)}"


def test_a_gateway_cannot_subscribe_outside_its_own_topics(broker: ProductionMosquitto) -> None:
    filters = (
        "#",
        "indeklima/v1/gw/+/readings",
        "indeklima/v1/gw/+/ack",
        ack_topic("gw-b"),
        "$share/x/indeklima/v1/gw/gw-a/ack",
        ack_topic("gw-a"),
        "indeklima/v1/gw/gw-a/config",
        "indeklima/v1/gw/gw-a/windows/+/cmd",
    )
    with connect(broker, "gw-a", filters) as gateway:
        refused = [f for f, code in zip(filters, gateway.granted, strict=True) if code >= 0x80]
    assert refused == list(filters[:5])


def test_a_gateway_cannot_take_over_ingest_session(broker: ProductionMosquitto) -> None:
    """gw-a asks for ingest's client id: the broker gives it its user name instead, and the real
    ingest stays connected and keeps receiving."""
    with connect(broker, "ingest", (INGEST_SUBSCRIPTION,), client_id="ingest-1") as ingest:
        with connect(broker, "gw-a", client_id="ingest-1") as impostor:
            assert impostor.publish(readings_topic("gw-a"), b"from the impostor") == 0
            with connect(broker, "gw-b") as gateway:
                assert gateway.publish(readings_topic("gw-b"), b"after the takeover") == 0
            got = _drain(ingest.messages, 2)
        assert ingest.disconnects.empty(), "ingest was disconnected"
    assert got == [b"from the impostor", b"after the takeover"]


def test_a_gateway_cannot_log_in_on_the_plain_listener(broker: ProductionMosquitto) -> None:
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id="gw-a", protocol=MQTTProtocolVersion.MQTTv5
    )
    client.username_pw_set("gw-a", password("gw-a"))
    codes: queue.Queue[int] = queue.Queue()
    client.on_connect = lambda _c, _u, _f, rc, _p: codes.put(rc.value)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        assert codes.get(timeout=TIMEOUT_S) == NOT_AUTHORIZED
    finally:
        client.disconnect()
        client.loop_stop()


def test_provisioned_gateway_publishes_its_own_topics_only(broker: ProductionMosquitto) -> None:
    """A gateway made the way `indeklima gateway provision` makes it (cloud.broker)."""
    broker.admin.provision_gateway("gw-new", password("gw-new"))
    with connect(broker, "control", ("indeklima/v1/gw/+/status",)) as control:
        with connect(broker, "gw-new") as gateway:
            assert gateway.publish(status_topic("gw-new"), b"online") == 0
            assert gateway.publish(readings_topic("gw-new"), b"x") in (0, NO_SUBSCRIBERS)
            assert gateway.publish(status_topic("gw-a"), b"forged") == NOT_AUTHORIZED
            assert gateway.publish(ack_topic("gw-new"), b"self-ack") == NOT_AUTHORIZED
        assert _drain(control.messages, 1) == [b"online"]
    with pytest.raises(BrokerError, match="already exists"):
        broker.admin.provision_gateway("gw-new", "another")


def test_admin_with_a_wrong_password_is_refused(broker: ProductionMosquitto) -> None:
    from dataclasses import replace

    with pytest.raises(BrokerError, match="admin"):
        replace(broker.admin, password="wrong").provision_gateway("gw-x", "pw")


def test_role_grants_own_topics_only() -> None:
    topics = {(a["acltype"], a["topic"]) for a in gateway_acls("gw-7")}
    assert all("/gw-7/" in topic for _, topic in topics)
    assert ("subscribeLiteral", "indeklima/v1/gw/gw-7/ack") in topics
    assert ("publishClientSend", "indeklima/v1/gw/gw-7/readings") in topics
    assert not any(kind == "publishClientSend" and t.endswith("/ack") for kind, t in topics)


@pytest.mark.parametrize("bad", ["ingest", "ingest-1", "jobs", "control", "+", "gw/a", "#", ""])
def test_service_names_and_wildcards_are_not_gateway_ids(bad: str) -> None:
    with pytest.raises(ValueError):
        provision_commands(bad, "pw")
