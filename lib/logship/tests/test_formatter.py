"""JsonFormatter: one valid JSON object per record, whatever the record holds."""

from __future__ import annotations

import datetime as dt
import decimal
import logging
import re
import sys
import uuid
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from logship import context
from logship.formatter import RESERVED_KEYS, JsonFormatter
from logship.limits import MAX_MESSAGE_BYTES_HARD
from logship.redact import REDACTED

TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
RESERVED_EXTRA = {"service", "environment", "level", "logger", "timestamp", "location"}


def make_record(
    msg: object = "hello",
    args: tuple[Any, ...] | dict[str, Any] = (),
    extra: dict[str, Any] | None = None,
    exc_info: Any = None,
    level: int = logging.INFO,
    name: str = "app.test",
) -> logging.LogRecord:
    logger = logging.getLogger(name)
    return logger.makeRecord(
        name,
        level,
        "/srv/app/mod.py",
        42,
        msg,
        args,
        exc_info,
        func="handler",
        extra=extra,  # type: ignore[arg-type]
    )


def parse(text: str) -> dict[str, Any]:
    assert "\n" not in text and "\r" not in text
    value = orjson.loads(text)
    assert isinstance(value, dict)
    return value


def check_reserved(doc: dict[str, Any], record: logging.LogRecord) -> None:
    assert TIMESTAMP.match(doc["timestamp"])
    assert doc["service"] == "svc"
    assert doc["environment"] == "test"
    assert doc["level"] == record.levelname
    assert doc["logger"] == record.name
    assert isinstance(doc["message"], str)
    assert doc["location"]["line"] == 42
    assert set(doc) <= RESERVED_KEYS


@pytest.fixture
def fmt() -> JsonFormatter:
    return JsonFormatter("svc", "test", max_message_bytes=4096)


def test_basic_shape(fmt: JsonFormatter) -> None:
    record = make_record("user %s logged in", ("bob",))
    doc = parse(fmt.format(record))
    check_reserved(doc, record)
    assert doc["message"] == "user bob logged in"
    assert doc["request_id"] is None and doc["trace_id"] is None
    assert doc["location"] == {"file": "/srv/app/mod.py", "line": 42, "function": "handler"}
    assert "data" not in doc and "exception" not in doc and "truncated" not in doc


def test_timestamp_is_utc_with_millis(fmt: JsonFormatter) -> None:
    record = make_record()
    record.created = 1_700_000_000.1234
    record.msecs = 123.4
    assert parse(fmt.format(record))["timestamp"] == "2023-11-14T22:13:20.123Z"


def test_caller_data_cannot_overwrite_reserved_keys(fmt: JsonFormatter) -> None:
    record = make_record(
        extra={"service": "evil", "level": "NOPE", "data": {"timestamp": "x", "message": "m"}}
    )
    doc = parse(fmt.format(record))
    check_reserved(doc, record)
    assert doc["data"] == {"service": "evil", "level": "NOPE", "timestamp": "x", "message": "m"}


def test_extra_data_and_other_attributes_are_nested(fmt: JsonFormatter) -> None:
    record = make_record(extra={"data": {"order": 7}, "user": "bob", "n": 2**70})
    doc = parse(fmt.format(record))
    assert doc["data"] == {"order": 7, "user": "bob", "n": str(2**70)}


def test_non_mapping_data_is_kept(fmt: JsonFormatter) -> None:
    doc = parse(fmt.format(make_record(extra={"data": [1, 2]})))
    assert doc["data"] == {"data": [1, 2]}


def test_mapping_message_becomes_data(fmt: JsonFormatter) -> None:
    doc = parse(fmt.format(make_record({"event": "signup", "plan": "pro"})))
    assert doc["message"] == "" and doc["data"] == {"event": "signup", "plan": "pro"}


def test_ids_from_record_then_context(fmt: JsonFormatter) -> None:
    with context.bind(request_id="ctx-r", trace_id="ctx-t"):
        doc = parse(fmt.format(make_record()))
        assert (doc["request_id"], doc["trace_id"]) == ("ctx-r", "ctx-t")
        doc = parse(fmt.format(make_record(extra={"request_id": "rec-r"})))
        assert (doc["request_id"], doc["trace_id"]) == ("rec-r", "ctx-t")
        assert "data" not in doc


def test_exception_is_a_field_never_trailing_text(fmt: JsonFormatter) -> None:
    try:
        raise ValueError('bad "thing"\nsecond line')
    except ValueError:
        record = make_record("failed", exc_info=sys.exc_info())
    text = fmt.format(record)
    doc = parse(text)
    assert doc["exception"]["type"] == "ValueError"
    assert doc["exception"]["message"] == 'bad "thing"\nsecond line'
    assert "Traceback" in doc["exception"]["stack"]
    assert text.endswith("}")


def test_exception_custom_type_and_stack_info(fmt: JsonFormatter) -> None:
    class AppError(Exception):
        pass

    try:
        raise AppError("x")
    except AppError:
        record = make_record(exc_info=sys.exc_info())
    record.stack_info = "Stack (most recent call last):\n  here"
    doc = parse(fmt.format(record))
    assert doc["exception"]["type"].endswith(
        "test_exception_custom_type_and_stack_info.<locals>.AppError"
    )
    assert doc["location"]["stack"].startswith("Stack")


def test_bad_format_args_keep_the_record(fmt: JsonFormatter) -> None:
    doc = parse(fmt.format(make_record("%d items", ("many",))))
    assert "message formatting failed" in doc["message"]


class Unserialisable:
    def __repr__(self) -> str:
        return "<Unserialisable token=abc>"


class BrokenRepr:
    def __repr__(self) -> str:
        raise RuntimeError("repr exploded")


def test_non_serialisable_extras_use_repr(fmt: JsonFormatter) -> None:
    doc = parse(
        fmt.format(
            make_record(
                extra={
                    "obj": Unserialisable(),
                    "broken": BrokenRepr(),
                    "when": dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
                    "dec": decimal.Decimal("1.10"),
                    "uid": uuid.UUID(int=1),
                    "raw": b"\xff\xfeok",
                    "tuple_key": {(1, 2): "v"},
                    "aset": {3},
                }
            )
        )
    )
    data = doc["data"]
    assert data["obj"] == f"<Unserialisable token={REDACTED}>"
    assert data["broken"] == "<unrepresentable BrokenRepr>"
    assert data["when"] == "2024-01-02T03:04:05+00:00"
    assert data["dec"] == "1.10"
    assert data["uid"] == str(uuid.UUID(int=1))
    assert data["raw"] == "\\xff\\xfeok"
    assert data["tuple_key"] == {"(1, 2)": "v"}
    assert data["aset"] == [3]


@pytest.mark.parametrize(
    ("record", "repairs"),
    [
        pytest.param(make_record(b"raw \xff"), {"bytes_message": 1}, id="bytes-message"),
        pytest.param(make_record("lone \udc80"), {"invalid_text": 1}, id="surrogate-message"),
        pytest.param(make_record(extra={"v": "x\ud800"}), {"invalid_text": 1}, id="surrogate-data"),
        pytest.param(make_record("%d items", ("many",)), {"message_format": 1}, id="format-args"),
        # the fast path serialises, then finds 13 digits and hands over: counted once
        pytest.param(
            make_record(extra={"obj": [Unserialisable()], "n": "1234567890123"}),
            {"unserialisable": 1},
            id="unserialisable-fast-path-declined",
        ),
        pytest.param(
            make_record(extra={"obj": [BrokenRepr()], "ok": [1]}),
            {"repr_failed": 1},
            id="repr-raises",
        ),
        pytest.param(make_record("fine", extra={"n": 1}), {}, id="nothing"),
    ],
)
def test_repairs_are_counted_once_per_value(
    fmt: JsonFormatter, record: logging.LogRecord, repairs: dict[str, int]
) -> None:
    parse(fmt.format(record))
    parse(fmt.format(record))  # cached on the record: not counted again
    assert {reason: n for reason, n in fmt.repairs.items() if n} == repairs
    assert fmt.repaired == sum(repairs.values())


def test_secrets_in_data_and_message_are_redacted(fmt: JsonFormatter) -> None:
    record = make_record(
        "calling https://api/x?token=abc",
        extra={"headers": {"Authorization": "Bearer t", "Cookie": "s=1"}, "password": "p"},
    )
    doc = parse(fmt.format(record))
    assert doc["message"] == f"calling https://api/x?token={REDACTED}"
    assert doc["data"] == {
        "headers": {"Authorization": f"Bearer {REDACTED}", "Cookie": f"s={REDACTED}"},
        "password": REDACTED,
    }


@pytest.mark.parametrize(
    "data",
    [
        {"duration_ms": 12.5, "upstream": "catalog", "status": 200},
        {"nested": {"list": [1, 2.5, None, True, "x"]}, "when": dt.date(2024, 1, 2)},
        {"big": 2**70, "dec": decimal.Decimal("1.5"), "set": {1}},
        {"obj": Unserialisable(), "tuple": (1, "a")},
        {"Authorization": "Bearer abc", "ok": 1},
        {"url": "https://h/?token=abc"},
        {"text": "caf\u00e9 \u2603"},
        {"deep": {"a": {"b": {"c": "d"}}}},
        {"many": list(range(2000))},
    ],
)
def test_fast_and_careful_data_paths_agree(fmt: JsonFormatter, data: dict[str, Any]) -> None:
    record = make_record(extra={"data": data})
    fast, _ = fmt._data(record, fast=True)
    careful, _ = fmt._data(record, fast=False)
    assert orjson.loads(orjson.dumps(fast)) == orjson.loads(orjson.dumps(careful))


def test_fast_path_keeps_valid_json_with_surrogates_in_message(fmt: JsonFormatter) -> None:
    doc = parse(fmt.format(make_record("bad \ud800", extra={"data": {"a": 1}})))
    assert doc["data"] == {"a": 1} and doc["message"] == "bad \ufffd"


def test_oversized_fast_path_data_is_cut_not_lost() -> None:
    fmt = JsonFormatter("svc", "test", max_message_bytes=1024)
    doc = parse(fmt.format(make_record("m" * 900, extra={"data": {"k": "v" * 100}})))
    assert doc["truncated"] is True and doc["data"]["k"].startswith("v")


def test_redaction_keys_are_configurable() -> None:
    fmt = JsonFormatter("svc", "test", redact_keys={"ssn"}, redact_key_parts=())
    doc = parse(fmt.format(make_record(extra={"ssn": "1", "password": "p"})))
    assert doc["data"] == {"ssn": REDACTED, "password": "p"}


@pytest.mark.parametrize(
    "message",
    [
        'quotes " and \\ backslashes',
        "newlines\nand\r\ncarriage returns",
        "control \x00\x01\x1f\x7f characters",
        "lone surrogate \ud800 and \udfff",
        "pair as surrogates \ud83d\ude00",
        "emoji 😀 and CJK 漢字",
        "",
    ],
)
def test_hostile_messages(fmt: JsonFormatter, message: str) -> None:
    record = make_record(message)
    doc = parse(fmt.format(record))
    check_reserved(doc, record)


def test_lone_surrogate_becomes_replacement_character(fmt: JsonFormatter) -> None:
    assert parse(fmt.format(make_record("a\ud800b")))["message"] == "a\ufffdb"


@pytest.mark.parametrize("size", [5_000, 1_000_000, 5_000_000])
def test_huge_message_is_truncated_inside_json(fmt: JsonFormatter, size: int) -> None:
    record = make_record("x" * size, extra={"keep": "small"})
    event = fmt.format_event(record)
    assert event.truncated
    assert event.size == len(event.text.encode()) <= fmt.max_message_bytes
    doc = parse(event.text)
    check_reserved(doc, record)
    assert doc["truncated"] is True
    assert doc["data"] == {"keep": "small"}
    assert doc["message"].startswith("xxx") and doc["message"].endswith("\u2026")


def test_escaping_heavy_message_still_fits(fmt: JsonFormatter) -> None:
    event = fmt.format_event(make_record("\x00" * 100_000))
    assert event.size <= fmt.max_message_bytes
    parse(event.text)


def test_many_small_values_collapse_into_a_preview(fmt: JsonFormatter) -> None:
    record = make_record(extra={"items": [f"v{i}" for i in range(5000)]})
    event = fmt.format_event(record)
    assert event.size <= fmt.max_message_bytes
    doc = parse(event.text)
    assert doc["truncated"] is True


def test_huge_logger_name_and_exception() -> None:
    fmt = JsonFormatter("svc", "test", max_message_bytes=1024)
    try:
        raise RuntimeError("e" * 100_000)
    except RuntimeError:
        record = make_record("m" * 10_000, exc_info=sys.exc_info(), name="n" * 5_000)
    event = fmt.format_event(record)
    assert event.size <= 1024
    doc = parse(event.text)
    assert doc["truncated"] is True and doc["service"] == "svc"


def test_max_message_bytes_bounds() -> None:
    with pytest.raises(ValueError):
        JsonFormatter("s", "e", max_message_bytes=100)
    with pytest.raises(ValueError):
        JsonFormatter("s", "e", max_message_bytes=MAX_MESSAGE_BYTES_HARD + 1)
    JsonFormatter("s", "e", max_message_bytes=MAX_MESSAGE_BYTES_HARD)


def test_cycles_and_deep_nesting(fmt: JsonFormatter) -> None:
    loop: dict[str, Any] = {}
    loop["self"] = loop
    deep: Any = 1
    for _ in range(500):
        deep = {"d": deep}
    doc = parse(fmt.format(make_record(extra={"loop": loop, "deep": deep})))
    assert doc["data"]["loop"] == {"self": "[CYCLE]"}
    assert doc["truncated"] is True


def test_result_is_cached_per_formatter(fmt: JsonFormatter) -> None:
    record = make_record()
    assert fmt.format_event(record) is fmt.format_event(record)
    other = JsonFormatter("svc", "test")
    assert other.format_event(record) is not fmt.format_event(record)


def test_works_with_stdlib_handlers(fmt: JsonFormatter, capsys: pytest.CaptureFixture[str]) -> None:
    logger = logging.getLogger("logship.test.stdlib")
    logger.propagate = False
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(fmt)
    logger.addHandler(handler)
    try:
        logger.warning("multi\nline", extra={"k": 1})
        try:
            raise KeyError("x")
        except KeyError:
            logger.exception("boom")
    finally:
        logger.removeHandler(handler)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    docs = [parse(line) for line in lines]
    assert docs[0]["message"] == "multi\nline" and docs[1]["exception"]["type"] == "KeyError"


# -- properties -------------------------------------------------------------------------------

any_text = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=300)
json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True),
    any_text,
    st.binary(max_size=50),
    st.builds(Unserialisable),
    st.builds(BrokenRepr),
)
any_data = st.recursive(
    json_leaf,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.one_of(any_text, st.integers()), children, max_size=5),
        st.tuples(children, children),
    ),
    max_leaves=30,
)
extra_keys = st.text(
    alphabet=st.characters(categories=("Ll", "Lu", "Nd"), max_codepoint=127),
    min_size=1,
    max_size=12,
).filter(
    lambda k: (
        k not in logging.LogRecord("", 0, "", 0, "", (), None).__dict__
        and k not in ("message", "asctime")
    )
)


@settings(max_examples=400, deadline=None)
@given(
    message=st.one_of(any_text, st.text(max_size=20_000), any_data),
    extra=st.dictionaries(extra_keys, any_data, max_size=6),
    limit=st.sampled_from([1024, 2048, 65_536]),
    level=st.sampled_from([logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, 25]),
)
def test_property_one_valid_object_with_reserved_keys(
    message: object, extra: dict[str, Any], limit: int, level: int
) -> None:
    fmt = JsonFormatter("svc", "test", max_message_bytes=limit)
    record = make_record(message, extra=extra, level=level)
    event = fmt.format_event(record)
    assert event.size == len(event.text.encode("utf-8")) <= limit
    doc = parse(event.text)
    check_reserved(doc, record)
    if "data" in doc:
        assert isinstance(doc["data"], dict)


# -- data already redacted by its producer ---------------------------------------------------


def test_redacted_data_is_serialised_without_a_walk(fmt: JsonFormatter) -> None:
    from logship.redact import RedactedData

    data = {"url": "https://x/p?page=2", "nested": [{"n": 1, "ok": True}], "s": "plain"}
    record = make_record(extra={"data": RedactedData(data)})
    doc = parse(fmt.format(record))
    assert doc["data"] == data
    # The same data unmarked goes the careful way and comes out the same.
    assert parse(fmt.format(make_record(extra={"data": dict(data)})))["data"] == data


def test_redacted_data_is_walked_by_a_formatter_with_more_rules() -> None:
    from logship.redact import RedactedData

    strict = JsonFormatter("svc", "test", redact_keys={"customer"})
    record = make_record(extra={"data": RedactedData({"customer": "jane", "x": 1})})
    assert parse(strict.format(record))["data"] == {"customer": REDACTED, "x": 1}


def test_redacted_data_that_orjson_refuses_takes_the_careful_path(fmt: JsonFormatter) -> None:
    from logship.redact import RedactedData

    data: dict[str, object] = {"big": 2**70, "odd": {1: "a"}, "when": dt.date(2026, 1, 2)}
    doc = parse(fmt.format(make_record(extra={"data": RedactedData(data)})))
    assert doc["data"] == {"big": str(2**70), "odd": {"1": "a"}, "when": "2026-01-02"}


def test_oversized_redacted_data_is_cut_to_size(fmt: JsonFormatter) -> None:
    from logship.redact import RedactedData

    record = make_record(extra={"data": RedactedData({"blob": "x" * 20_000, "n": 1})})
    event = fmt.format_event(record)
    assert event.size <= 4096 and event.truncated
    assert parse(event.text)["data"]["n"] == 1
