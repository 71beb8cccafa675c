"""CSV import at the site: sensor logs (wide, one column per metric) and survey-tool NPS exports.

Files come as they come: quoted or not, with a leading row-id column the header does
not name, BOM, blank lines. Every bad row is refused with its line number and reason;
the good rows go in.
"""
from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path

from standards.loader import Problem

from .agent import Agent
from .intake import NpsAnswer, Outcome, Refusal, check_score, parse_time

# column name in common exports → canonical metric
SENSOR_COLUMNS = {
    "temperature": "temperature_c", "temperature_c": "temperature_c",
    "humidity": "humidity_pct", "humidity_pct": "humidity_pct",
    "light": "illuminance_lux", "illuminance_lux": "illuminance_lux", "lux": "illuminance_lux",
    "co2": "co2_ppm", "co2_ppm": "co2_ppm",
    "occupancy": "zone_occupied", "zone_occupied": "zone_occupied",
    "noise": "noise_dba", "noise_dba": "noise_dba", "pm25": "pm25_ugm3", "pm2.5": "pm25_ugm3",
    "pm25_ugm3": "pm25_ugm3", "people": "people_count", "people_count": "people_count",
    "energy_kwh": "energy_kwh",
}
TIME_COLUMNS = ("date", "ts", "timestamp", "time", "datetime")
# survey tools: 问卷星 / 腾讯问卷 / SurveyMonkey / Typeform / Google Forms style headers
SCORE_COLUMNS = ("score", "nps", "推荐分", "推荐意愿", "您有多大可能向朋友推荐我们", "how likely are you to recommend us",
                 "on a scale from 0-10, how likely are you to recommend us to a friend or colleague?")
COMMENT_COLUMNS = ("comment", "comments", "feedback", "意见", "建议", "留言", "其他意见", "any other feedback?")
ANSWERED_COLUMNS = ("answered_at", "submitted at", "submit time", "提交答卷时间", "提交时间", "timestamp", "date",
                    "start date", "end date")
ID_COLUMNS = ("respondent id", "response id", "序号", "答卷编号", "id", "#")


@dataclass
class ImportReport:
    """What an import took in: the values accepted, and every refusal as a ``Problem`` (``file:line: reason``)."""

    accepted: int = 0
    problems: list[Problem] = field(default_factory=list)

    def add(self, outcome: Outcome) -> None:
        self.accepted += outcome.accepted


def _rows(text: str):
    """Header and rows; a header one name shorter than the rows means an unnamed row-id column first."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    header = None
    for line_no, row in enumerate(reader, start=1):
        if not any(cell.strip() for cell in row):
            continue
        if header is None:
            header = [h.strip().lower() for h in row]
            continue
        if len(row) == len(header) + 1:
            row = row[1:]
        yield line_no, header, row


def import_readings(agent: Agent, path: Path, zone: str, batch: int = 5000) -> ImportReport:
    """A wide sensor log: a time column and one column per known metric; other columns are ignored."""
    report = ImportReport()
    pending = []
    for line_no, header, row in _rows(path.read_text(encoding="utf-8-sig")):
        if len(row) != len(header):
            report.problems.append(Problem(path.name, line_no, f"{len(row)} cells, header has {len(header)}"))
            pending.append(Refusal("unparseable", f"line {line_no}"))
            continue
        record = dict(zip(header, row))
        at = next((record[c] for c in TIME_COLUMNS if c in record), None)
        for column, raw in record.items():
            metric = SENSOR_COLUMNS.get(column)
            if metric is None:
                continue
            item = agent.check(zone, metric, raw, at)
            if isinstance(item, Refusal):
                report.problems.append(Problem(path.name, line_no, f"{column}: {item.reason} {item.detail}".rstrip()))
            pending.append(item)
        if len(pending) >= batch:
            report.add(agent.ingest_readings(pending))
            pending = []
    if pending:
        report.add(agent.ingest_readings(pending))
    return report


def import_nps(agent: Agent, path: Path, language: str = "zh_CN") -> ImportReport:
    """A survey-tool export: a 0–10 score column, optional comment, time and respondent id columns.

    The record id is derived from the file's row (respondent id, or the row's content), so
    importing the same export twice adds nothing.
    """
    report = ImportReport()
    answers: list[NpsAnswer | Refusal] = []
    for line_no, header, row in _rows(path.read_text(encoding="utf-8-sig")):
        record = dict(zip(header, row))
        score_column = next((c for c in header if c in SCORE_COLUMNS or "推荐" in c or "recommend" in c), None)
        if score_column is None:
            report.problems.append(Problem(path.name, 1, f"no score column (expected one of {', '.join(SCORE_COLUMNS[:3])})"))
            return report
        score = check_score(record.get(score_column))
        answered = parse_time(next((record[c] for c in ANSWERED_COLUMNS if record.get(c)), None), agent.config.zone)
        if score is None:
            report.problems.append(Problem(path.name, line_no, f"score {record.get(score_column)!r} is not 0–10"))
            answers.append(Refusal("out_of_range", f"line {line_no}"))
            continue
        if answered is None:
            report.problems.append(Problem(path.name, line_no, "no readable answer time"))
            answers.append(Refusal("missing_timestamp", f"line {line_no}"))
            continue
        respondent = next((record[c] for c in ID_COLUMNS if record.get(c)), None)
        key = respondent or "|".join(row)
        record_id = "import-" + hashlib.sha256(f"{path.name}|{key}".encode("utf-8")).hexdigest()[:32]
        comment = next((record[c] for c in COMMENT_COLUMNS if record.get(c)), "")
        answers.append(NpsAnswer(record_id=record_id, answered_at=answered, score=score, comment=comment,
                                 language=language))
    report.add(agent.record_nps(answers))
    return report
