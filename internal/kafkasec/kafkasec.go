// Package kafkasec is how Xunjian's Kafka clients reach a secured Kafka:
// TLS (the brokers' CA, optionally a client certificate) and SASL
// (SCRAM-SHA-256, SCRAM-SHA-512, or PLAIN over TLS). One Config, the same
// `tls` and `sasl` keys wherever a configuration file names brokers: the
// gateway's event stream (stream.tls, stream.sasl), the console's
// consumer (kafka.tls, kafka.sasl), and `xunjian tail` (its --tls… and
// --sasl… flags).
//
// Certificates are reloaded without a restart: before each connection the
// client looks at tls.ca_file, tls.cert_file and tls.key_file (one stat
// each) and loads them again when they changed (internal/certfiles), so a
// rotated client certificate is presented, and a rotated CA trusted, by
// the next connection; a pair or CA file that does not load keeps the
// previous ones, logged once. Connections already open keep theirs.
//
// Secrets never sit in a file: the SASL password is read from the
// environment variable sasl.password_env names, when Open builds the
// Client. Errors and logs name the user, the mechanism and that variable,
// never the password. Certificate verification cannot be turned off:
// insecure_skip_verify is refused, since a client that accepts any
// certificate hands the events and the password to whoever answers.
package kafkasec

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/sasl"
	"github.com/segmentio/kafka-go/sasl/plain"
	"github.com/segmentio/kafka-go/sasl/scram"

	"github.com/xunjian/xunjian/internal/certfiles"
	"github.com/xunjian/xunjian/internal/envvar"
)

// SASL mechanisms (SASL.Mechanism).
const (
	// SCRAMSHA512 is SCRAM with SHA-512: the password never crosses the
	// wire, even without TLS. The recommended one.
	SCRAMSHA512 = "SCRAM-SHA-512"
	// SCRAMSHA256 is SCRAM with SHA-256.
	SCRAMSHA256 = "SCRAM-SHA-256"
	// Plain sends the password itself: accepted over TLS only.
	Plain = "PLAIN"
)

// DefaultDialTimeout bounds connecting to a broker, TLS and SASL included,
// when a caller gives no timeout.
const DefaultDialTimeout = 10 * time.Second

// Config says how to reach the brokers: the `tls` and `sasl` keys beside
// a configuration's brokers. The zero Config is plain TCP without
// authentication (Kafka's PLAINTEXT).
type Config struct {
	// TLS encrypts the connections and verifies the brokers.
	TLS TLS `yaml:"tls"`
	// SASL authenticates the client.
	SASL SASL `yaml:"sasl"`
}

// TLS is the `tls` key: TLS to the brokers.
type TLS struct {
	// Enabled turns TLS on (Kafka's SSL and SASL_SSL listeners).
	Enabled bool `yaml:"enabled"`
	// CAFile is a PEM file of the CA certificates the brokers'
	// certificates must chain to; empty means the system's roots.
	CAFile string `yaml:"ca_file"`
	// CertFile and KeyFile are a client certificate (its chain after it,
	// if any) and its key (PEM), for brokers that require one
	// (ssl.client.auth=required); both or neither. Read at start and
	// again, like CAFile, whenever they change.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName is the name the brokers' certificates must carry; empty
	// means the host of each broker address dialled.
	ServerName string `yaml:"server_name"`
	// InsecureSkipVerify is refused: it is here so that a file setting it
	// gets the reason rather than "unknown field".
	InsecureSkipVerify bool `yaml:"insecure_skip_verify"`
}

// SASL is the `sasl` key: who the client is.
type SASL struct {
	// Mechanism is SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN (PLAIN only with
	// tls.enabled); empty means no SASL.
	Mechanism string `yaml:"mechanism"`
	// Username is the Kafka user; required with a mechanism.
	Username string `yaml:"username"`
	// PasswordEnv names the environment variable holding the user's
	// password; required with a mechanism. The password itself is never
	// in a file.
	PasswordEnv string `yaml:"password_env"`
}

// Enabled reports whether c asks for TLS or SASL.
func (c Config) Enabled() bool { return c.TLS.Enabled || c.SASL.Mechanism != "" }

// Protocol names c the way Kafka names a listener's security protocol:
// PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.
func (c Config) Protocol() string {
	switch {
	case c.TLS.Enabled && c.SASL.Mechanism != "":
		return "SASL_SSL"
	case c.TLS.Enabled:
		return "SSL"
	case c.SASL.Mechanism != "":
		return "SASL_PLAINTEXT"
	}
	return "PLAINTEXT"
}

// Validate checks c as a configuration file gives it, naming each fault by
// its YAML path under path (e.g. "stream.sasl.username: ..."), all of them
// joined. It reads no file and no environment variable: Open does.
func (c Config) Validate(path string) error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", path, field, fmt.Sprintf(format, args...)))
	}
	t := c.TLS
	if t.InsecureSkipVerify {
		bad("tls.insecure_skip_verify", "not allowed: a client that accepts any certificate gives the events and the password to whoever answers; set tls.ca_file to the CA that signed the brokers' certificates")
	}
	if !t.Enabled && (t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" || t.ServerName != "") {
		bad("tls.enabled", "false, but tls has files or a server name: set enabled: true, or remove them")
	}
	if (t.CertFile == "") != (t.KeyFile == "") {
		bad("tls.cert_file", "cert_file and key_file go together (a client certificate and its key)")
	}
	s := c.SASL
	switch s.Mechanism {
	case "":
		if s.Username != "" || s.PasswordEnv != "" {
			bad("sasl.mechanism", "missing: want %s, %s or %s", SCRAMSHA512, SCRAMSHA256, Plain)
		}
		return errors.Join(errs...)
	case SCRAMSHA512, SCRAMSHA256:
	case Plain:
		if !t.Enabled {
			bad("sasl.mechanism", "PLAIN sends the password in clear: enable tls, or use %s", SCRAMSHA512)
		}
	default:
		bad("sasl.mechanism", "%q: want %s, %s or %s", s.Mechanism, SCRAMSHA512, SCRAMSHA256, Plain)
	}
	if s.Username == "" {
		bad("sasl.username", "missing: the Kafka user")
	}
	switch {
	case s.PasswordEnv == "":
		bad("sasl.password_env", "missing: the environment variable holding the password (the password is never in the file)")
	case !envvar.Name(s.PasswordEnv):
		bad("sasl.password_env", "not an environment variable name (letters, digits, _): name the variable that holds the password, not the password")
	}
	return errors.Join(errs...)
}

// Client is a Config made ready to dial: its files read, its password
// taken from the environment. A nil *Client is plain TCP without
// authentication; its methods work on nil.
type Client struct {
	cfg Config
	// files keeps the CA and client certificate files loaded; nil
	// without either (TLS verified with the system's roots, no client
	// certificate) or without TLS.
	files *certfiles.Reloader
	mech  sasl.Mechanism
}

// Options carry what OpenWith needs beyond the configuration.
type Options struct {
	// Getenv reads the password; nil means os.Getenv.
	Getenv func(string) string
	// Logger receives the reloads of the certificate files and their
	// failures; nil means slog.Default().
	Logger *slog.Logger
}

// Open is OpenWith with getenv and the default logger.
func (c Config) Open(path string, getenv func(string) string) (*Client, error) {
	return c.OpenWith(path, Options{Getenv: getenv})
}

// OpenWith reads what c names (the CA and client certificate files, the
// password from the environment) and returns the Client to dial with;
// nil, nil when c is not Enabled. Errors name the fields under path, as
// Validate's do (OpenWith validates c first).
func (c Config) OpenWith(path string, opts Options) (*Client, error) {
	if err := c.Validate(path); err != nil {
		return nil, err
	}
	if !c.Enabled() {
		return nil, nil
	}
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	cl := &Client{cfg: c}
	if t := c.TLS; t.Enabled && (t.CAFile != "" || t.CertFile != "") {
		var err error
		cl.files, err = certfiles.New(certfiles.Files{CertFile: t.CertFile, KeyFile: t.KeyFile, CAFile: t.CAFile},
			certfiles.Options{Logger: log.With(slog.String("kafka_tls", path+".tls")), Client: true, Prefix: path + ".tls."})
		if err != nil {
			return nil, err
		}
	}
	if s := c.SASL; s.Mechanism != "" {
		pw := getenv(s.PasswordEnv)
		if pw == "" {
			return nil, fmt.Errorf("%s.sasl.password_env: environment variable %s is empty: set it to the password of the Kafka user %s", path, s.PasswordEnv, s.Username)
		}
		var err error
		switch s.Mechanism {
		case Plain:
			cl.mech = plain.Mechanism{Username: s.Username, Password: pw}
		case SCRAMSHA256:
			cl.mech, err = scram.Mechanism(scram.SHA256, s.Username, pw)
		case SCRAMSHA512:
			cl.mech, err = scram.Mechanism(scram.SHA512, s.Username, pw)
		}
		if err != nil { // SASLprep refused the name or the password; its error may quote them
			return nil, fmt.Errorf("%s.sasl: the user name %q or the password in %s is not valid for %s (SASLprep)", path, s.Username, s.PasswordEnv, s.Mechanism)
		}
	}
	return cl, nil
}

// Dialer returns a kafka-go Dialer (for Readers and Conns) that dials with
// c's TLS and SASL, naming itself clientID, each connection bounded by
// timeout (zero: DefaultDialTimeout). With TLS its DialFunc makes the
// handshake (see dialTLS); its TLS field is nil.
func (c *Client) Dialer(clientID string, timeout time.Duration) *kafka.Dialer {
	if timeout <= 0 {
		timeout = DefaultDialTimeout
	}
	d := &kafka.Dialer{ClientID: clientID, Timeout: timeout, DualStack: true}
	if c != nil {
		d.SASLMechanism = c.mech
		if c.cfg.TLS.Enabled {
			d.DialFunc = c.dialTLS
		}
	}
	return d
}

// Transport returns a kafka-go Transport (for a kafka.Client) that dials
// with c's TLS and SASL, naming itself clientID, with kafka-go's other
// defaults. With TLS its Dial makes the handshake (see dialTLS). Close
// its idle connections when done with it.
func (c *Client) Transport(clientID string) *kafka.Transport {
	t := &kafka.Transport{ClientID: clientID}
	if c != nil {
		t.SASL = c.mech
		if c.cfg.TLS.Enabled {
			t.Dial = c.dialTLS
		}
	}
	return t
}

// dialTLS connects to address and makes the TLS handshake within ctx,
// with a configuration made for this connection from the files as they
// are now: the brokers verified against the current tls.ca_file (the
// system's roots without one) and tls.server_name or the host dialled,
// the current client certificate presented when a broker asks for one.
// kafka-go takes a fixed *tls.Config, whose roots cannot change and
// whose verification callbacks do not learn the address dialled (SNI
// leaves out IP addresses), hence the handshake here rather than there.
func (c *Client) dialTLS(ctx context.Context, network, address string) (net.Conn, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.cfg.TLS.ServerName}
	if conf.ServerName == "" {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			host = address
		}
		conf.ServerName = host
	}
	if c.files != nil {
		l := c.files.Current()
		conf.RootCAs = l.CAs
		if l.Certificate != nil {
			conf.GetClientCertificate = c.files.GetClientCertificate
		}
	}
	var d net.Dialer
	raw, err := d.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	conn := tls.Client(raw, conf)
	if err := conn.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("TLS handshake with %s: %w", address, err)
	}
	return conn, nil
}

// Certificate returns the client certificate the next connection presents
// (its files checked first); nil without one.
func (c *Client) Certificate() *x509.Certificate {
	if c == nil || c.files == nil {
		return nil
	}
	return c.files.Leaf()
}

// Check connects to the brokers in turn, with c's TLS and SASL, until one
// answers an ApiVersions request, within ctx; it returns nil then, else
// every broker's failure (explained, see Explain) joined. The gateway's
// shipper probes Kafka with it; `xunjian tail` runs it to say why a look-up
// failed.
func (c *Client) Check(ctx context.Context, brokers []string, clientID string) error {
	return CheckDialer(ctx, c.Dialer(clientID, 0), brokers, c.Explain)
}

// CheckDialer is Check with a dialer of the caller's, its failures passed
// through explain (nil: as they are).
func CheckDialer(ctx context.Context, d *kafka.Dialer, brokers []string, explain func(error) error) error {
	if explain == nil {
		explain = func(err error) error { return err }
	}
	var errs []error
	for _, b := range brokers {
		conn, err := d.DialContext(ctx, "tcp", b)
		if err != nil {
			errs = append(errs, fmt.Errorf("broker %s: %w", b, explain(err)))
			continue
		}
		if dl, ok := ctx.Deadline(); ok {
			_ = conn.SetDeadline(dl)
		}
		stop := context.AfterFunc(ctx, func() { conn.Close() }) // cancellation ends the round trip
		_, err = conn.ApiVersions()
		stop()
		conn.Close()
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("broker %s: %w", b, explain(err)))
	}
	if len(errs) == 0 {
		return errors.New("no brokers")
	}
	return errors.Join(errs...)
}

// String describes c for logs: the protocol, and the mechanism and user
// with SASL (never the password), e.g. "SASL_SSL SCRAM-SHA-512 user
// xunjian".
func (c *Client) String() string {
	if c == nil {
		return "PLAINTEXT"
	}
	s := c.cfg.Protocol()
	if m := c.cfg.SASL; m.Mechanism != "" {
		s += " " + m.Mechanism + " user " + m.Username
	}
	return s
}

// Explain wraps err, a failure to reach the brokers with c, in what an
// operator needs to fix it when the cause is the security settings: a
// refused password, a mechanism the listener does not offer, a certificate
// the CA did not sign, a client certificate the broker refused, a listener
// that does not speak TLS. It knows these by their types and, where
// kafka-go has flattened an error into text (its readers' error logs) or
// Go gives no type (a TLS alert from the broker), by their text. Other
// errors, and errors already explained, are returned as they are.
func (c *Client) Explain(err error) error {
	if err == nil {
		return nil
	}
	h := c.hint(err)
	if h == "" || strings.Contains(err.Error(), h) {
		return err
	}
	return fmt.Errorf("%s: %w", h, err)
}

// hint is Explain's advice for err, empty when it has none.
func (c *Client) hint(err error) string {
	var (
		unknownCA x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		recordHdr tls.RecordHeaderError
		protocol  = "PLAINTEXT"
		sasl      SASL
	)
	if c != nil {
		protocol, sasl = c.cfg.Protocol(), c.cfg.SASL
	}
	refused := fmt.Sprintf("the brokers refused the credentials of Kafka user %q (SASL %s): check sasl.username and the password in %s", sasl.Username, sasl.Mechanism, sasl.PasswordEnv)
	unknown := "the broker's certificate is not signed by a CA in tls.ca_file (or the system's roots without one)"
	noTLS := "the broker did not answer in TLS: is tls.enabled set for a PLAINTEXT or SASL_PLAINTEXT listener?"
	switch {
	case errors.Is(err, kafka.SASLAuthenticationFailed):
		return refused
	case errors.Is(err, kafka.UnsupportedSASLMechanism):
		return fmt.Sprintf("the brokers' listener does not offer SASL %s: check sasl.mechanism against the listener's sasl.enabled.mechanisms", sasl.Mechanism)
	case errors.Is(err, kafka.IllegalSASLState):
		return fmt.Sprintf("the brokers' listener does not expect SASL here (%s): is it a PLAINTEXT or SSL listener?", protocol)
	case errors.As(err, &unknownCA):
		return unknown
	case errors.As(err, &hostname):
		return "the broker's certificate is not for the address dialled: set tls.server_name to a name it carries, or dial a name it carries"
	case errors.As(err, &invalid):
		return "the broker's certificate is not valid"
	case errors.As(err, &recordHdr):
		return noTLS
	}
	switch msg := err.Error(); {
	case refusedCertificate(msg):
		return "the broker refused the client certificate (tls.cert_file): the listener requires one (ssl.client.auth) signed by a CA in its ssl.truststore, valid now"
	case strings.Contains(msg, "SASL Authentication Failed"):
		return refused
	case strings.Contains(msg, "certificate signed by unknown authority"):
		return unknown
	case strings.Contains(msg, "first record does not look like a TLS handshake"):
		return noTLS
	}
	return ""
}

// refusedCertificate reports whether msg carries the broker's TLS alert
// about this client's certificate (none sent, or one it does not trust):
// Go gives remote alerts only as text, "remote error: tls: bad
// certificate" and the like.
func refusedCertificate(msg string) bool {
	_, alert, ok := strings.Cut(msg, "remote error: tls: ")
	return ok && strings.Contains(alert, "certificate")
}
