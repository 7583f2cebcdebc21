//! Errors of configuration loading. Each says what is wrong and where: the file (with line and
//! column when known), the key, or the flag.

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    ReadFile {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// `-config.expand-env` found a malformed `${...}`.
    #[error("config file {path}: cannot expand environment variables: {message}")]
    ExpandEnv {
        /// The file.
        path: String,
        /// What was wrong, with the line.
        message: String,
    },
    /// The file is not valid YAML. The message from the YAML parser includes the position.
    #[error("config file {path}: invalid YAML: {message}")]
    Yaml {
        /// The file.
        path: String,
        /// 1-based line, if known.
        line: Option<usize>,
        /// 1-based column, if known.
        column: Option<usize>,
        /// The parser's message.
        message: String,
    },
    /// The file's top level is not a mapping.
    #[error(
        "config file {path}: the top level must be a mapping of sections (like server:, storage:)"
    )]
    NotAMapping {
        /// The file.
        path: String,
    },
    /// A key unknown to Tempo (and so to Vivace).
    #[error("config file {path}: unknown key {key}{}", line_suffix(*.line))]
    UnknownKey {
        /// The file.
        path: String,
        /// Dotted path of the key, e.g. `ingester.trace_idle_periodd`.
        key: String,
        /// 1-based line, if found.
        line: Option<usize>,
    },
    /// A value of the wrong type or out of range in the file. The message names the key and, when
    /// known, the position.
    #[error("config file {path}: {message}")]
    InvalidValue {
        /// The file.
        path: String,
        /// 1-based line, if known.
        line: Option<usize>,
        /// 1-based column, if known.
        column: Option<usize>,
        /// What was wrong.
        message: String,
    },
    /// A flag Vivace (and Tempo) does not know.
    #[error("unknown flag {flag} (see -help)")]
    UnknownFlag {
        /// The flag as written.
        flag: String,
    },
    /// A flag that needs a value was last on the command line.
    #[error("flag {flag} needs a value")]
    MissingFlagValue {
        /// The flag as written.
        flag: String,
    },
    /// A flag's value is invalid.
    #[error("flag {flag}: invalid value {value:?}: {message}")]
    InvalidFlagValue {
        /// The flag as written.
        flag: String,
        /// Its value.
        value: String,
        /// What was wrong.
        message: String,
    },
    /// A positional argument (Vivace takes none).
    #[error("unexpected argument {arg:?}: flags look like -name=value")]
    UnexpectedArgument {
        /// The argument.
        arg: String,
    },
    /// A storage backend Tempo has and Vivace does not yet.
    #[error(
        "storage backend {backend} is not supported yet (storage.trace.backend; vivace supports: local)"
    )]
    UnsupportedBackend {
        /// The backend name.
        backend: String,
    },
    /// A setting is well-formed but not acceptable.
    #[error("invalid configuration: {key}: {message}")]
    Invalid {
        /// Dotted path of the key.
        key: String,
        /// What was wrong.
        message: String,
    },
}

/// ` (line N)` when the line is known.
fn line_suffix(line: Option<usize>) -> String {
    line.map(|line| format!(" (line {line})"))
        .unwrap_or_default()
}
