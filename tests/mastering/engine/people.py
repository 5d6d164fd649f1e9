"""A small fixed set of hand-made person records with known duplicates, for engine tests."""

from __future__ import annotations

from mastering.engine import AttributeSpec, LabeledPair

FIELDS = ("given_name", "surname", "street", "suburb", "postcode", "birth_date", "phone")

SPECS = [
    AttributeSpec("given_name", "ShortString"),
    AttributeSpec("surname", "ShortString"),
    AttributeSpec("street", "String"),
    AttributeSpec("suburb", "ShortString"),
    AttributeSpec("postcode", "Exact"),
    AttributeSpec("birth_date", "DateTime"),
    AttributeSpec("phone", "ShortString"),
]

# (entity, given name, surname, street, suburb, postcode, birth date, phone)
_ROWS = [
    ("alice", "Alice", "Johnson", "12 Baker Street", "Richmond", "3121", "1985-03-14", "0398765432"),
    ("alice", "Alicia", "Johnson", "12 Baker St", "Richmond", "3121", "14/03/1985", "0398765432"),
    ("alice", "alice", "jonson", "12 baker street", "richmond", "3121", "1985-03-14", None),
    ("bob", "Robert", "Smith", "4 Elm Avenue", "Fitzroy", "3065", "1972-11-02", "0391234567"),
    ("bob", "Bob", "Smith", "4 Elm Ave", "Fitzroy", "3065", "1972-11-02", "0391234567"),
    ("carla", "Carla", "Rossi", "88 Harbour Road", "Manly", "2095", "1990-07-21", "0299887766"),
    ("carla", "Carla", "Rossi-Bianchi", "88 Harbour Rd", "Manly", "2095", "1990-07-21", "0299887766"),
    ("carla", "Karla", "Rossi", "88 Harbor Road", "Manly", None, "1990-07-21", "0299887767"),
    ("dev", "Devendra", "Patel", "3 Kingfisher Lane", "Parramatta", "2150", "1968-01-30", "0296541234"),
    ("dev", "Dev", "Patel", "3 Kingfisher Ln", "Parramatta", "2150", "1968-01-30", None),
    ("emma", "Emma", "Walsh", "150 Collins Street", "Melbourne", "3000", "2001-09-09", "0390001111"),
    ("emma", "Emma", "Walsh", "150 Colins Street", "Melbourne", "3000", "2001-09-09", "0390001111"),
    ("farid", "Farid", "Haddad", "27 Ocean Parade", "Coogee", "2034", "1979-05-05", "0293332222"),
    ("farid", "Farid", "Hadad", "27 Ocean Pde", "Coogee", "2034", "1979-05-05", "0293332222"),
    ("farid", "F", "Haddad", "27 Ocean Parade", "Coogee", "2034", None, "0293332222"),
    ("grace", "Grace", "Liu", "9 Wattle Court", "Box Hill", "3128", "1995-12-25", "0398881234"),
    ("grace", "Grace", "Liu", "9 Wattle Ct", "Box Hill", "3128", "1995-12-25", "0398881234"),
    ("henry", "Henry", "O'Brien", "61 Station Street", "Ballarat", "3350", "1958-06-17", "0353214567"),
    ("henry", "Henry", "OBrien", "61 Station St", "Ballarat", "3350", "1958-06-17", "0353214567"),
    ("isla", "Isla", "McKenzie", "5 Banksia Drive", "Toowong", "4066", "1988-02-29", "0733445566"),
    ("isla", "Isla", "Mackenzie", "5 Banksia Dr", "Toowong", "4066", "1988-02-29", "0733445566"),
    ("jack", "Jack", "Nguyen", "230 George Street", "Sydney", "2000", "1999-10-10", "0291112233"),
    ("jack", "Jack", "Nguyen", "230 George St", "Sydney", "2000", "1999-10-01", "0291112233"),
    ("kate", "Kate", "Brown", "17 Railway Terrace", "Adelaide", "5000", "1983-04-04", "0881234567"),
    ("kate", "Katherine", "Brown", "17 Railway Tce", "Adelaide", "5000", "1983-04-04", "0881234567"),
    ("leo", "Leo", "Fischer", "2 Mill Road", "Hobart", "7000", "1975-08-08", "0362229999"),
    ("leo", "Leo", "Fisher", "2 Mill Rd", "Hobart", "7000", "1975-08-08", "0362229999"),
    # Near misses: similar to someone above, but other people.
    ("mia", "Mia", "Johnson", "14 Baker Street", "Richmond", "3121", "1991-06-01", "0398765000"),
    ("noah", "Noah", "Smith", "40 Elm Avenue", "Fitzroy", "3065", "1960-02-12", "0391239999"),
    ("olga", "Olga", "Rossi", "12 Pier Street", "Manly", "2095", "1949-09-30", "0299001122"),
    ("pete", "Peter", "Brown", "71 Railway Terrace", "Adelaide", "5000", "1970-12-12", "0881110000"),
    ("quinn", "Quinn", "Walsh", "150 Flinders Street", "Melbourne", "3000", "2003-03-03", "0390002222"),
    ("rosa", "Rosa", "Liu", "19 Wattle Court", "Box Hill", "3128", "1966-07-07", "0398887777"),
    ("sam", "Samuel", "Nguyen", "23 George Street", "Sydney", "2000", "1955-05-15", "0291119999"),
    ("tara", "Tara", "Patel", "30 Kingfisher Lane", "Parramatta", "2150", "1993-11-11", "0296540000"),
    ("uma", "Uma", "Haddad", "72 Ocean Parade", "Coogee", "2034", "1987-01-19", "0293330000"),
    ("vic", "Victor", "Fischer", "20 Mill Road", "Hobart", "7000", "1947-04-22", "0362220000"),
    ("will", "William", "OBrien", "16 Station Street", "Ballarat", "3350", "1980-10-30", "0353210000"),
    ("xena", "Xena", "McKenzie", "50 Banksia Drive", "Toowong", "4066", "2000-02-02", "0733440000"),
    ("yuki", "Yuki", "Tanaka", "8 Cherry Close", "Glebe", "2037", "1992-04-18", "0295556666"),
]

RECORDS: dict[int, dict[str, object]] = {
    100 + i: dict(zip(FIELDS, row[1:])) for i, row in enumerate(_ROWS)
}
ENTITY: dict[int, str] = {100 + i: row[0] for i, row in enumerate(_ROWS)}
# For link tests: records alternate between two sources.
SOURCE: dict[int, str] = {rid: ("crm" if i % 2 == 0 else "billing") for i, rid in enumerate(sorted(RECORDS))}


def true_pairs() -> set[tuple[int, int]]:
    """Every pair of records that are the same person."""
    ids = sorted(RECORDS)
    return {(a, b) for i, a in enumerate(ids) for b in ids[i + 1 :] if ENTITY[a] == ENTITY[b]}


def answer(pair: tuple[int, int]) -> LabeledPair:
    """The simulated curator's answer for a pair."""
    return LabeledPair(pair[0], pair[1], ENTITY[pair[0]] == ENTITY[pair[1]])


def seed_labels() -> list[LabeledPair]:
    """A few labels a curator might give up front: two matches and two distinct pairs."""
    return [answer((100, 101)), answer((103, 104)), answer((100, 127)), answer((103, 128))]
