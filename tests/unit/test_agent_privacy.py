"""Comments are scrubbed of personal data before they are stored at the site."""
import pytest

from site_agent.privacy import scrub


@pytest.mark.parametrize("comment, expected", [
    ("前台态度很好，请回电 13812345678", "前台态度很好，请回电 [phone]"),
    ("call me on +86 139-1234-5678 please", "call me on [phone] please"),
    ("手机0086 15012345678", "手机[phone]"),
    ("138 1234 5678 is my number", "[phone] is my number"),
    ("write to li.lei+cowork@example.com.cn", "write to [email]"),
    ("身份证 11010519491231002X 丢在前台了", "身份证 [id] 丢在前台了"),
    ("id 110105194912310021", "id [id]"),
    ("id lowercase x 11010519491231002x", "id lowercase x [id]"),
])
def test_personal_data_in_a_comment_is_replaced_by_a_marker(comment, expected):
    assert scrub(comment) == expected


@pytest.mark.parametrize("comment", [
    "会议室 12 号的投影坏了，订单 20261122 号",
    "wifi password 12345678901 is too long to type",  # 11 digits but not a mobile (starts 12)
    "咖啡 10 分！",
    "room 1234-5678",
])
def test_ordinary_numbers_are_left_alone(comment):
    assert scrub(comment) == comment


def test_an_id_number_is_not_half_taken_for_a_phone():
    assert "[phone]" not in scrub("身份证号 110105199003071234")


def test_an_empty_comment_stays_empty():
    assert scrub(None) == "" and scrub("   ") == ""
