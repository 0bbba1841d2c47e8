"""Runs Microsoft Presidio's analyzer on messages for `go run ./bench pii`.

Reads JSON lines {"id": int, "text": str} on stdin, writes one JSON line per
message, {"id": int, "entities": [{"type", "start", "end", "score"}]}, with
start and end in code points (Python string indices), and ends with one
summary line {"summary": {...}} holding the analyzer's wall time over all
messages (start-up and I/O excluded) and the versions.

Offline and pattern-only: the AnalyzerEngine runs on Presidio's NoOpNlpEngine
(no spaCy model, no NER, no tokens, so context words found in the text do
not raise scores), with every predefined recognizer for English. Presidio has
no Chinese recognizers; Chinese messages are analysed as English too. The
public-suffix list that the e-mail recognizer's tldextract would fetch from
the internet is replaced by the snapshot tldextract ships.

Single process, single thread, as Presidio's analyzer runs per request.
"""

import json
import sys
import time


def main() -> int:
    # Never reach for the network: tldextract's bundled snapshot only.
    import tldextract.tldextract as tld

    tld.TLD_EXTRACTOR = tld.TLDExtract(suffix_list_urls=(), cache_dir=None)

    from importlib.metadata import version

    from presidio_analyzer import AnalyzerEngine
    from presidio_analyzer.nlp_engine.no_op_nlp_engine import NoOpNlpEngine

    nlp = NoOpNlpEngine(models=[{"lang_code": "en", "model_name": "none"}])
    nlp.load()
    analyzer = AnalyzerEngine(nlp_engine=nlp, supported_languages=["en"])
    recognizers = sorted(r.name for r in analyzer.get_recognizers(language="en"))

    rows = [json.loads(line) for line in sys.stdin if line.strip()]
    # Warm up: first calls compile regexes lazily.
    for row in rows[:50]:
        analyzer.analyze(text=row["text"], language="en")

    out = []
    start = time.perf_counter()
    for row in rows:
        results = analyzer.analyze(text=row["text"], language="en")
        out.append((row["id"], results))
    elapsed = time.perf_counter() - start

    w = sys.stdout
    for rid, results in out:
        ents = [
            {"type": r.entity_type, "start": r.start, "end": r.end, "score": round(r.score, 3)}
            for r in results
        ]
        w.write(json.dumps({"id": rid, "entities": ents}) + "\n")
    summary = {
        "messages": len(rows),
        "elapsed_seconds": elapsed,
        "presidio_analyzer": version("presidio_analyzer"),
        "python": sys.version.split()[0],
        "nlp_engine": "NoOpNlpEngine",
        "recognizers": recognizers,
    }
    w.write(json.dumps({"summary": summary}) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
