-- xunjian console store, schema 1 (SQLite). Times are Unix milliseconds.
-- Keep in step with ../postgres/0001_init.sql: same tables, columns,
-- constraints and indexes; only the types differ.

-- The team of each agent, per tenant (SetAgentTeams). Ingest copies an
-- agent's team into the rows it writes, so a later change of team does not
-- move past alerts.
CREATE TABLE agent_teams (
    tenant   TEXT NOT NULL,
    agent_id TEXT NOT NULL,
    team     TEXT NOT NULL,
    PRIMARY KEY (tenant, agent_id)
);

-- One row per (event, topic) ingested: what makes Ingest idempotent. The
-- Kafka position is kept for tracing a row back to its message.
CREATE TABLE ingested (
    event_id        TEXT    NOT NULL,
    topic           TEXT    NOT NULL,
    kafka_partition INTEGER NOT NULL,
    kafka_offset    INTEGER NOT NULL,
    ingested_ms     INTEGER NOT NULL,
    PRIMARY KEY (event_id, topic)
);

-- One row per event: the inspected message, masked. No text_enc.
CREATE TABLE events (
    event_id        TEXT    NOT NULL PRIMARY KEY,
    tenant          TEXT    NOT NULL,
    conversation_id TEXT    NOT NULL,
    agent_id        TEXT    NOT NULL,
    team            TEXT,
    role            TEXT    NOT NULL,
    ts_ms           INTEGER NOT NULL,
    action          TEXT    NOT NULL,
    delivered       INTEGER NOT NULL CHECK (delivered IN (0, 1)),
    text_masked     TEXT    NOT NULL,
    findings        TEXT    NOT NULL, -- JSON array of event.Finding
    risk            REAL    NOT NULL,
    sampled         INTEGER NOT NULL CHECK (sampled IN (0, 1)),
    fail_open       INTEGER NOT NULL CHECK (fail_open IN (0, 1)),
    agent_claimed   INTEGER NOT NULL CHECK (agent_claimed IN (0, 1)),
    policy_revision TEXT    NOT NULL,
    route           TEXT    NOT NULL,
    ingested_ms     INTEGER NOT NULL
);
CREATE INDEX events_conversation ON events (tenant, conversation_id, ts_ms);

-- One row per finding of an event, for counts by kind and per agent.
CREATE TABLE findings (
    event_id TEXT    NOT NULL REFERENCES events (event_id) ON DELETE CASCADE,
    idx      INTEGER NOT NULL,
    tenant   TEXT    NOT NULL,
    team     TEXT,
    agent_id TEXT    NOT NULL,
    ts_ms    INTEGER NOT NULL,
    detector TEXT    NOT NULL,
    kind     TEXT    NOT NULL,
    severity TEXT    NOT NULL,
    PRIMARY KEY (event_id, idx)
);
CREATE INDEX findings_tenant_ts ON findings (tenant, ts_ms);
CREATE INDEX findings_agent_ts ON findings (tenant, agent_id, ts_ms);

-- The turns of alert contexts (masked), which include messages that were
-- never published as events. A turn is (tenant, conversation, ts, role);
-- the latest alert that showed it (seen_ms) wins, as it knows best whether
-- the turn was delivered.
CREATE TABLE context_turns (
    tenant          TEXT    NOT NULL,
    conversation_id TEXT    NOT NULL,
    ts_ms           INTEGER NOT NULL,
    role            TEXT    NOT NULL,
    action          TEXT    NOT NULL,
    delivered       INTEGER NOT NULL CHECK (delivered IN (0, 1)),
    text_masked     TEXT    NOT NULL,
    seen_ms         INTEGER NOT NULL,
    PRIMARY KEY (tenant, conversation_id, ts_ms, role)
);

-- Supervisor alerts, one per alert of an event of the alerts topic.
-- level_rank: 1 low, 2 medium, 3 high, 4 critical, 0 unknown.
-- risk: the conversation's risk after the alerting message.
-- version: bumped by every transition (optimistic concurrency).
CREATE TABLE alerts (
    id              INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    event_id        TEXT    NOT NULL REFERENCES events (event_id) ON DELETE CASCADE,
    idx             INTEGER NOT NULL,
    tenant          TEXT    NOT NULL,
    team            TEXT,
    agent_id        TEXT    NOT NULL,
    conversation_id TEXT    NOT NULL,
    level           TEXT    NOT NULL,
    level_rank      INTEGER NOT NULL,
    kind            TEXT    NOT NULL,
    message         TEXT    NOT NULL,
    risk            REAL    NOT NULL,
    created_ms      INTEGER NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'new' CHECK (state IN ('new', 'acknowledged', 'resolved')),
    assignee        TEXT    NOT NULL DEFAULT '',
    note            TEXT    NOT NULL DEFAULT '',
    version         INTEGER NOT NULL DEFAULT 1,
    updated_ms      INTEGER NOT NULL,
    UNIQUE (event_id, idx)
);
-- The wall's order (ListAlerts), with and without a state filter.
CREATE INDEX alerts_wall ON alerts (tenant, level_rank DESC, risk DESC, created_ms DESC, id DESC);
CREATE INDEX alerts_state_wall ON alerts (tenant, state, level_rank DESC, risk DESC, created_ms DESC, id DESC);
-- Counters and the time window of ListAlerts; per team; per agent
-- (AgentStats); per conversation.
CREATE INDEX alerts_created ON alerts (tenant, created_ms, kind);
CREATE INDEX alerts_team ON alerts (tenant, team, created_ms);
CREATE INDEX alerts_agent ON alerts (tenant, agent_id, created_ms);
CREATE INDEX alerts_conversation ON alerts (tenant, conversation_id);

-- Every transition of an alert: who, when, from, to, note.
CREATE TABLE alert_history (
    id         INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    alert_id   INTEGER NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    tenant     TEXT    NOT NULL,
    actor      TEXT    NOT NULL,
    at_ms      INTEGER NOT NULL,
    from_state TEXT    NOT NULL,
    to_state   TEXT    NOT NULL,
    assignee   TEXT    NOT NULL,
    note       TEXT    NOT NULL
);
CREATE INDEX alert_history_alert ON alert_history (alert_id, id);

-- The chat-channel notifier's ledger: a key is claimed before a send and
-- done after it, so a redelivered alert is not posted twice.
CREATE TABLE deliveries (
    delivery_key TEXT    NOT NULL PRIMARY KEY,
    attempts     INTEGER NOT NULL,
    claimed_ms   INTEGER NOT NULL,
    done_ms      INTEGER
);

-- Notifications the notifier gave up on.
CREATE TABLE dead_letters (
    id           INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    delivery_key TEXT    NOT NULL,
    channel      TEXT    NOT NULL,
    summary      TEXT    NOT NULL,
    error        TEXT    NOT NULL,
    created_ms   INTEGER NOT NULL
);
CREATE INDEX dead_letters_created ON dead_letters (created_ms DESC, id DESC);
