// Package notify delivers the supervisors' alerts of `xunjian console` to
// chat channels: a generic signed webhook, DingTalk and WeCom group
// robots, Feishu/Lark custom bots and Slack incoming webhooks.
//
// The console's Kafka consumer turns each alert event
// (xunjian.event/v1, package gateway/stream/event) into Notifications
// (FromEvent), stores them, and hands them to a Dispatcher. The
// Dispatcher routes each one to channels (Router: by tenant, team, alert
// kind and minimum level, with a default route), throttles each channel
// (at most Limit posts per Window; the overflow is folded into one digest
// posted when the window ends), and delivers with a bounded pool of
// workers: retries with exponential backoff and jitter, a per-attempt
// timeout, 429 Retry-After honoured, then a dead letter.
//
// # Delivery guarantee
//
// Delivery is at least once, with no double post after a restart as far
// as the platforms allow. Every delivery has an idempotency key per
// (event id, alert kind, channel name) (Notification.Key). Before a
// delivery is queued, the caller's Ledger is asked (Claim) whether the key
// is done; once the platform has accepted the post, the key is marked done
// (Done). A restarted console therefore re-submits every alert it has not
// seen acknowledged — for example the alerts it stored but whose keys the
// ledger does not mark done — and the ledger stops the ones already
// posted.
//
// One window remains, and no design can close it for these platforms: a
// crash after the platform accepted a post and before Done was recorded
// posts that alert again after the restart, since none of the robots
// takes an idempotency key (the generic webhook sends one, in the
// Idempotency-Key header, for a receiver that deduplicates). The
// Dispatcher keeps the window to the time of one ledger write: Done is
// called at once after the platform's answer, with a context of its own
// that Close does not cancel. A notification folded into a digest is
// marked done when the digest is posted; a digest still pending when the
// process dies is lost, and its notifications, not being done, are posted
// again when they are re-submitted.
//
// # Privacy
//
// Events carry masked text only, and this package sends exactly the masked
// text it is given (escaped for the platform's markup where the platform
// needs it, never unmasked or rewritten otherwise). Tokens, keys and
// signing secrets are read from environment variables named in the
// configuration; they never appear in the configuration, in errors or in
// logs: transport errors are stripped of the URL (which holds DingTalk's
// access token, WeCom's key, the Feishu hook and the whole Slack webhook),
// and every error is scrubbed of the channel's secrets. Notification
// implements slog.LogValuer with its ids only.
//
// # Platforms
//
// Each channel type follows its platform's documented message format:
//
//   - webhook: POST of WebhookBody (JSON) to the configured URL, headers
//     X-Xunjian-Timestamp (Unix seconds), X-Xunjian-Signature
//     ("sha256=" + hex HMAC-SHA256 of "<timestamp>.<body>", see
//     WebhookSignature) and Idempotency-Key. Any 2xx is success.
//   - dingtalk: custom robot, markdown message, token in access_token;
//     with a signing secret, timestamp (ms) and sign (HmacSHA256 of
//     timestamp + "\n" + secret keyed with the secret, Base64, URL-encoded)
//     in the query. errcode 0 is success; 130101 and 410100 (sent too
//     fast) and -1 (busy) are retried
//     (https://open.dingtalk.com/document/robots/custom-robot-access).
//   - wecom: group robot, markdown message (at most 4096 bytes), key in
//     the query. errcode 0 is success; 45009 (over the limit), 45033 and
//     -1 are retried (https://developer.work.weixin.qq.com/document/path/91770).
//   - feishu: custom bot, post (rich text) message; with a signing secret,
//     timestamp (s) and sign (HMAC-SHA256 keyed with timestamp + "\n" +
//     secret over an empty message, Base64) in the body, at most 20 KB.
//     code 0 is success; 11232 (frequency limited) is retried
//     (https://open.feishu.cn/document/client-docs/bot-v3/add-custom-bot).
//   - slack: incoming webhook, {"text", "blocks"} with mrkdwn sections
//     (&, <, > escaped, at most 3000 characters a section). 200 "ok" is
//     success (https://docs.slack.dev/messaging/sending-messages-using-incoming-webhooks).
//
// For every type, HTTP 408, 429 and 5xx, timeouts and connection errors
// are retried, a 429's (or 503's) Retry-After honoured; other 4xx are not.
// Markdown platforms (DingTalk, WeCom) get the masked text with
// CommonMark's backslash escapes, so that a mask such as 138****5678 is
// shown as written instead of being read as emphasis.
package notify
