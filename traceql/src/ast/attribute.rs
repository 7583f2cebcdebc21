//! Attributes and intrinsics: what a field expression can read from a span.

use super::StaticType;

/// Where a custom attribute is looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttributeScope {
    /// `.name`: span attributes, then resource attributes.
    Unscoped,
    /// `span.name`
    Span,
    /// `resource.name`
    Resource,
    /// `event.name`
    Event,
    /// `link.name`
    Link,
    /// `instrumentation.name`
    Instrumentation,
}

impl AttributeScope {
    /// The prefix written before the name (`.` for unscoped).
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Unscoped => ".",
            Self::Span => "span.",
            Self::Resource => "resource.",
            Self::Event => "event.",
            Self::Link => "link.",
            Self::Instrumentation => "instrumentation.",
        }
    }
}

/// A user-defined attribute such as `span.http.method` or `parent.resource."a b"`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CustomAttribute {
    /// The scope it is read from.
    pub scope: AttributeScope,
    /// Read from the parent span (`parent.` prefix; only `Unscoped`, `Span` and `Resource`
    /// can be written after it). Tempo reports this as not yet supported.
    pub parent: bool,
    /// The attribute key, unquoted and unescaped.
    pub name: String,
}

/// The scope written before `:` in a scoped intrinsic (`span:duration`, `trace:id`, ...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntrinsicScope {
    /// `span:`
    Span,
    /// `trace:`
    Trace,
    /// `event:`
    Event,
    /// `link:`
    Link,
    /// `instrumentation:`
    Instrumentation,
}

impl IntrinsicScope {
    /// The scope word without the colon.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Span => "span",
            Self::Trace => "trace",
            Self::Event => "event",
            Self::Link => "link",
            Self::Instrumentation => "instrumentation",
        }
    }
}

/// A built-in field of spans, traces, events, links or instrumentation scopes.
///
/// The legacy spelling (`duration`, `rootName`, ...) and the scoped spelling (`span:duration`,
/// `trace:rootName`, ...) of the same field are the same intrinsic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Intrinsic {
    /// `duration`, `span:duration`
    Duration,
    /// `name`, `span:name`
    Name,
    /// `status`, `span:status`
    Status,
    /// `statusMessage`, `span:statusMessage`
    StatusMessage,
    /// `kind`, `span:kind`
    Kind,
    /// `span:childCount`
    ChildCount,
    /// `span:id`
    SpanId,
    /// `span:parentID`
    ParentId,
    /// `rootName`, `trace:rootName`
    TraceRootName,
    /// `rootServiceName`, `trace:rootService`
    TraceRootService,
    /// `traceDuration`, `trace:duration`
    TraceDuration,
    /// `trace:id`
    TraceId,
    /// `nestedSetLeft` (undocumented)
    NestedSetLeft,
    /// `nestedSetRight` (undocumented)
    NestedSetRight,
    /// `nestedSetParent` (undocumented)
    NestedSetParent,
    /// `parent` (parses; not yet supported)
    Parent,
    /// `event:name`
    EventName,
    /// `event:timeSinceStart`
    EventTimeSinceStart,
    /// `link:traceID`
    LinkTraceId,
    /// `link:spanID`
    LinkSpanId,
    /// `instrumentation:name`
    InstrumentationName,
    /// `instrumentation:version`
    InstrumentationVersion,
}

impl Intrinsic {
    /// The canonical spelling: the legacy word where one exists, else `scope:name`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Duration => "duration",
            Self::Name => "name",
            Self::Status => "status",
            Self::StatusMessage => "statusMessage",
            Self::Kind => "kind",
            Self::ChildCount => "span:childCount",
            Self::SpanId => "span:id",
            Self::ParentId => "span:parentID",
            Self::TraceRootName => "rootName",
            Self::TraceRootService => "rootServiceName",
            Self::TraceDuration => "traceDuration",
            Self::TraceId => "trace:id",
            Self::NestedSetLeft => "nestedSetLeft",
            Self::NestedSetRight => "nestedSetRight",
            Self::NestedSetParent => "nestedSetParent",
            Self::Parent => "parent",
            Self::EventName => "event:name",
            Self::EventTimeSinceStart => "event:timeSinceStart",
            Self::LinkTraceId => "link:traceID",
            Self::LinkSpanId => "link:spanID",
            Self::InstrumentationName => "instrumentation:name",
            Self::InstrumentationVersion => "instrumentation:version",
        }
    }

    /// What the intrinsic describes.
    pub fn scope(self) -> IntrinsicScope {
        match self {
            Self::TraceRootName | Self::TraceRootService | Self::TraceDuration | Self::TraceId => {
                IntrinsicScope::Trace
            }
            Self::EventName | Self::EventTimeSinceStart => IntrinsicScope::Event,
            Self::LinkTraceId | Self::LinkSpanId => IntrinsicScope::Link,
            Self::InstrumentationName | Self::InstrumentationVersion => {
                IntrinsicScope::Instrumentation
            }
            _ => IntrinsicScope::Span,
        }
    }

    /// The static type of the intrinsic's values.
    pub fn implied_type(self) -> StaticType {
        match self {
            Self::Duration | Self::TraceDuration | Self::EventTimeSinceStart => {
                StaticType::Duration
            }
            Self::ChildCount
            | Self::NestedSetLeft
            | Self::NestedSetRight
            | Self::NestedSetParent => StaticType::Int,
            Self::Status => StaticType::Status,
            Self::Kind => StaticType::Kind,
            Self::Parent => StaticType::Nil,
            Self::Name
            | Self::StatusMessage
            | Self::SpanId
            | Self::ParentId
            | Self::TraceRootName
            | Self::TraceRootService
            | Self::TraceId
            | Self::EventName
            | Self::LinkTraceId
            | Self::LinkSpanId
            | Self::InstrumentationName
            | Self::InstrumentationVersion => StaticType::String,
        }
    }
}

/// Anything a field expression reads: an intrinsic or a custom attribute.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Attribute {
    /// A built-in field.
    Intrinsic(Intrinsic),
    /// A user-defined attribute.
    Custom(CustomAttribute),
}

impl Attribute {
    /// A custom attribute in `scope`, not on the parent.
    pub fn custom(scope: AttributeScope, name: impl Into<String>) -> Self {
        Self::Custom(CustomAttribute {
            scope,
            parent: false,
            name: name.into(),
        })
    }

    /// The static type of the values read: intrinsics have a fixed type, custom attributes are
    /// only known at query time ([`StaticType::Attribute`]).
    pub fn implied_type(&self) -> StaticType {
        match self {
            Self::Intrinsic(intrinsic) => intrinsic.implied_type(),
            Self::Custom(_) => StaticType::Attribute,
        }
    }
}
