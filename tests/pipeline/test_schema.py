"""The dataset contract: keys and ids."""

import pytest
from unitscope.pipeline import schema


def test_video_id_is_stable_and_distinct():
    a = schema.video_id("s3://bucket/a.mp4")
    assert a == schema.video_id("s3://bucket/a.mp4")
    assert a != schema.video_id("s3://bucket/b.mp4")
    assert len(a) == 16 and "." not in a and "-" not in a


def test_frame_key_round_trip():
    vid = schema.video_id("/data/x.mp4")
    key = schema.frame_key(vid, 1234)
    assert "." not in key
    assert schema.parse_frame_key(key) == (vid, 1234)


@pytest.mark.parametrize("bad", ["", "abc-1", "0123456789abcdef-", "0123456789abcdef-1.jpg", "../etc/passwd"])
def test_parse_frame_key_rejects_non_keys(bad):
    with pytest.raises(ValueError, match="not a frame key"):
        schema.parse_frame_key(bad)
