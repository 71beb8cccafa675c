"""CSV import at the site: the real UCI office log as it is, and survey-tool NPS exports."""
from datetime import datetime, timezone
from pathlib import Path

from site_agent.agent import Agent
from site_agent.config import AgentConfig
from site_agent.csv_import import import_nps, import_readings
from standards.loader import Problem

UCI = Path(__file__).resolve().parents[2] / "site_agent" / "data" / "uci-occupancy"
NOW = datetime(2026, 11, 20, 8, 0, tzinfo=timezone.utc)


def make_agent(tmp_path) -> Agent:
    return Agent(AgentConfig(site_code="SH-01", token="t", buffer_path=str(tmp_path / "b.sqlite"),
                             timezone="Europe/Brussels"), clock=lambda: NOW)


def slice_of(name: str, tmp_path: Path, rows: int) -> Path:
    lines = (UCI / name).read_text().splitlines()[:rows + 1]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_unquoted_uci_file_with_its_unnamed_row_id_column_is_imported(tmp_path):
    agent = make_agent(tmp_path)
    report = import_readings(agent, slice_of("datatest2.txt", tmp_path, 30), zone="office")

    assert report.problems == [] and report.accepted == 30 * 5   # temperature, humidity, light, CO2, occupancy
    records = agent.page("readings", 0, 100)["records"]
    co2 = [r for r in records if r["metric"] == "co2_ppm"]
    # 14:48–14:59 local (Brussels, UTC+1) is the first bucket: 12 minutes of readings
    assert co2[0]["bucket_start"] == "2015-02-11T13:45:00Z" and co2[0]["count"] == 12


def test_the_quoted_uci_file_is_imported_the_same_way(tmp_path):
    agent = make_agent(tmp_path)
    report = import_readings(agent, slice_of("datatest.txt", tmp_path, 20), zone="office")
    assert report.problems == [] and report.accepted == 100


def test_bad_rows_are_refused_with_file_and_line_and_the_good_rows_kept(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text('"date","CO2","Temperature"\n'
                    '"2015-02-11 14:48:00",700,21.5\n'
                    '"2015-02-11 14:49:00",abc,21.6\n'
                    '"2015-02-11 14:50:00",700\n'
                    '"not a date",700,21.7\n')
    agent = make_agent(tmp_path)

    report = import_readings(agent, path, zone="office")

    assert report.accepted == 3
    assert report.problems[0] == Problem("log.csv", 3, "co2: unparseable value 'abc'")
    assert report.problems[1] == Problem("log.csv", 4, "2 cells, header has 3")
    assert str(report.problems[2]).startswith("log.csv:5: co2: unparseable timestamp")


def test_a_wenjuanxing_style_export_is_imported_once_however_often_it_is_read(tmp_path):
    export = tmp_path / "wjx.csv"
    export.write_text("\ufeff序号,提交答卷时间,您有多大可能向朋友推荐我们？,其他意见\n"
                      "1,2026/11/18 10:02:11,9,很喜欢这里的咖啡\n"
                      "2,2026/11/18 11:40:00,3,空调太冷，请联系 13912345678\n", encoding="utf-8")
    agent = make_agent(tmp_path)

    first = import_nps(agent, export)
    second = import_nps(agent, export)

    assert (first.accepted, second.accepted, first.problems) == (2, 0, [])
    records = agent.page("nps", 0, 10)["records"]
    assert [(r["score"], r["comment"]) for r in records] == [(9, "很喜欢这里的咖啡"), (3, "空调太冷，请联系 [phone]")]


def test_a_surveymonkey_style_export_in_english(tmp_path):
    export = tmp_path / "sm.csv"
    export.write_text("Respondent ID,Start Date,How likely are you to recommend us to a friend?,Comments\n"
                      "1142,2026-11-18T09:00:00+08:00,10,great community events\n"
                      "1143,2026-11-18T09:30:00+08:00,eleven,\n")
    agent = make_agent(tmp_path)

    report = import_nps(agent, export, language="en")

    assert report.accepted == 1 and report.problems == [Problem("sm.csv", 3, "score 'eleven' is not 0–10")]
    assert agent.page("nps", 0, 10)["records"][0]["language"] == "en"
