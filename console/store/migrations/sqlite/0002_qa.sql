-- xunjian console store, schema 2 (SQLite): quality audits (docs/qa.md).
-- Times are Unix milliseconds. Keep in step with ../postgres/0002_qa.sql:
-- same tables, columns, constraints and indexes; only the types differ.

-- The raw text of the events of the samples topic, still sealed as the
-- gateway sealed it (text_enc: {alg, key_id, nonce, ciphertext} as JSON,
-- the event_id its additional data). The store never opens it: the API
-- does, for a principal holding the decrypt permission, and logs it.
CREATE TABLE sealed_texts (
    event_id TEXT NOT NULL PRIMARY KEY REFERENCES events (event_id) ON DELETE CASCADE,
    tenant   TEXT NOT NULL,
    text_enc TEXT NOT NULL
);

-- Review tasks: one per sampled conversation and reviewer. slot is '' for
-- the conversation's one task, the auditor's subject for each task of a
-- calibration group: (tenant, conversation_id, slot) is what makes task
-- creation idempotent. sampled_ms is the time of the conversation's first
-- sampled event (the quota's day); team is the agent's then.
CREATE TABLE qa_tasks (
    id                INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    tenant            TEXT    NOT NULL,
    conversation_id   TEXT    NOT NULL,
    slot              TEXT    NOT NULL,
    agent_id          TEXT    NOT NULL,
    team              TEXT,
    lang              TEXT    NOT NULL,
    risk              REAL    NOT NULL,
    reason            TEXT    NOT NULL,
    assignee          TEXT    NOT NULL DEFAULT '',
    state             TEXT    NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'in_review', 'done')),
    calibration_group TEXT,
    sampled_ms        INTEGER NOT NULL,
    due_ms            INTEGER NOT NULL,
    created_ms        INTEGER NOT NULL,
    updated_ms        INTEGER NOT NULL,
    UNIQUE (tenant, conversation_id, slot)
);
CREATE INDEX qa_tasks_due ON qa_tasks (tenant, due_ms, id);
CREATE INDEX qa_tasks_assignee ON qa_tasks (tenant, assignee, due_ms, id);
CREATE INDEX qa_tasks_agent ON qa_tasks (tenant, agent_id, sampled_ms);
CREATE INDEX qa_tasks_group ON qa_tasks (tenant, calibration_group);

-- The round-robin counters of task assignment, per tenant and pool (the
-- auditors a task may go to, joined).
CREATE TABLE qa_assign (
    tenant TEXT    NOT NULL,
    pool   TEXT    NOT NULL,
    n      INTEGER NOT NULL,
    PRIMARY KEY (tenant, pool)
);

-- Reviews, one per task: a draft until submitted_ms is set, when score
-- and auto_score are frozen. version is bumped by every save.
CREATE TABLE qa_reviews (
    id           INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    task_id      INTEGER NOT NULL UNIQUE REFERENCES qa_tasks (id) ON DELETE CASCADE,
    tenant       TEXT    NOT NULL,
    auditor      TEXT    NOT NULL,
    categories   TEXT    NOT NULL, -- JSON {category id: score in [0, 1]}
    auto_fail    TEXT    NOT NULL, -- JSON [auto-fail item id]
    note         TEXT    NOT NULL,
    score        REAL,
    auto_score   REAL,
    version      INTEGER NOT NULL,
    created_ms   INTEGER NOT NULL,
    updated_ms   INTEGER NOT NULL,
    submitted_ms INTEGER
);
CREATE INDEX qa_reviews_submitted ON qa_reviews (tenant, submitted_ms);

-- A review's verdicts on the gateway's findings. kind, rule and lexicon
-- are the finding's, copied when the verdict is saved, so precision per
-- rule needs no event.
CREATE TABLE qa_verdicts (
    review_id     INTEGER NOT NULL REFERENCES qa_reviews (id) ON DELETE CASCADE,
    idx           INTEGER NOT NULL,
    tenant        TEXT    NOT NULL,
    event_id      TEXT    NOT NULL,
    finding_index INTEGER NOT NULL,
    verdict       TEXT    NOT NULL CHECK (verdict IN ('correct', 'false_positive', 'wrong_kind')),
    correct_kind  TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    rule          TEXT    NOT NULL,
    lexicon       TEXT    NOT NULL,
    PRIMARY KEY (review_id, idx),
    UNIQUE (review_id, event_id, finding_index)
);

-- What the gateway missed, per review: a span of an event's text
-- (code points) and the kind it should have found.
CREATE TABLE qa_missed (
    review_id INTEGER NOT NULL REFERENCES qa_reviews (id) ON DELETE CASCADE,
    idx       INTEGER NOT NULL,
    tenant    TEXT    NOT NULL,
    event_id  TEXT    NOT NULL,
    start_cp  INTEGER NOT NULL,
    end_cp    INTEGER NOT NULL,
    kind      TEXT    NOT NULL,
    note      TEXT    NOT NULL,
    PRIMARY KEY (review_id, idx)
);

-- Disputes of a submitted review (or of one of its findings), by the
-- task's agent or a supervisor, and their ruling.
CREATE TABLE qa_disputes (
    id            INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    tenant        TEXT    NOT NULL,
    review_id     INTEGER NOT NULL REFERENCES qa_reviews (id) ON DELETE CASCADE,
    event_id      TEXT,
    finding_index INTEGER,
    by_actor      TEXT    NOT NULL,
    by_role       TEXT    NOT NULL,
    reason        TEXT    NOT NULL,
    state         TEXT    NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'accepted', 'partly_accepted', 'rejected')),
    ruling_note   TEXT    NOT NULL DEFAULT '',
    ruled_by      TEXT    NOT NULL DEFAULT '',
    ruled_ms      INTEGER,
    created_ms    INTEGER NOT NULL
);
CREATE INDEX qa_disputes_review ON qa_disputes (tenant, review_id);
CREATE INDEX qa_disputes_created ON qa_disputes (tenant, created_ms, id);

-- Who read raw text or exported cases, when, of which conversation and
-- events.
CREATE TABLE qa_audit_log (
    id              INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    tenant          TEXT    NOT NULL,
    at_ms           INTEGER NOT NULL,
    actor           TEXT    NOT NULL,
    action          TEXT    NOT NULL,
    conversation_id TEXT    NOT NULL,
    event_ids       TEXT    NOT NULL, -- JSON array
    raw             INTEGER NOT NULL CHECK (raw IN (0, 1))
);
CREATE INDEX qa_audit_log_at ON qa_audit_log (tenant, at_ms, id);
