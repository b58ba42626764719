"""The source of truth: a real SQLite database of quarterly figures, made on the fly."""

from __future__ import annotations

import random
import sqlite3

COMPANIES = ["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Tyrell"]
QUARTERS = [f"{y}-Q{q}" for y in (2024, 2025) for q in (1, 2, 3, 4)]


def make_database() -> sqlite3.Connection:
    """An in-memory SQLite database of quarterly figures, made on the fly."""
    db = sqlite3.connect(":memory:", check_same_thread=False)
    db.execute(
        "CREATE TABLE figures (company TEXT, quarter TEXT, revenue INTEGER, profit INTEGER,"
        " PRIMARY KEY (company, quarter))"
    )
    rng = random.Random(2024)
    db.executemany(
        "INSERT INTO figures VALUES (?, ?, ?, ?)",
        [
            (c, q, rng.randrange(10_000, 90_000), rng.randrange(-5_000, 20_000))
            for c in COMPANIES
            for q in QUARTERS
        ],
    )
    db.commit()
    return db


def change_figures(db: sqlite3.Connection, company: str, quarter: str) -> str:
    """A write to the source of truth (a restated quarter); returns the new answer."""
    db.execute(
        "UPDATE figures SET revenue = revenue + 1000, profit = profit + 100"
        " WHERE company = ? AND quarter = ?",
        (company, quarter),
    )
    db.commit()
    return ask_database(db, company, quarter)


def ask_database(db: sqlite3.Connection, company: str, quarter: str) -> str:
    revenue, profit = db.execute(
        "SELECT revenue, profit FROM figures WHERE company = ? AND quarter = ?", (company, quarter)
    ).fetchone()
    return f"{company} {quarter}: revenue ${revenue}k, profit ${profit}k"
