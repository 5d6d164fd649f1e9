"""Stored values (JSON parameters, counts) as text people read: names in words, numbers without noise, lists
joined, nested mappings spelled out. Never a Python repr. Shared by every app's pages (see templatetags/readable)."""

WORDS = {
    "model_version": "Model version", "per_predicate": "Pairs per blocking rule", "threshold": "Match threshold",
    "records": "Records", "pairs": "Candidate pairs", "entities": "Entities", "new": "New entities",
    "unchanged": "Unchanged entities", "retired": "Retired", "chunks": "Chunks", "file_name": "File name",
    "checksum": "Checksum (SHA-256)", "channel": "Channel", "mode": "Mode", "partial": "Keep good rows",
    "label_count": "Labels", "values_changed": "Values changed", "rule": "Rule", "attribute": "Attribute",
}



def words(name: str) -> str:
    """snake_case → "Snake case", with the known names spelled out."""
    if name in WORDS:
        return WORDS[name]
    text = str(name).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def text(value) -> str:
    """One value as text: — for nothing, yes/no, numbers without noise, lists joined."""
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.4f}".rstrip("0").rstrip(".") if abs(value) < 1000 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, list | tuple):
        return ", ".join(text(v) for v in value) if value else "—"
    if isinstance(value, dict):
        return "; ".join(f"{words(k)}: {text(v)}" for k, v in value.items()) or "—"
    return str(value)
