//! A piece of SQL built at run time from trusted text and bound values, usable as a boolean
//! filter or an ORDER BY list inside any diesel query over either backend.
//!
//! The text parts come only from this crate (column names, operators); every value a client
//! sent is a bind parameter, whose placeholder diesel writes in the backend's own syntax.

use chrono::{NaiveDate, NaiveDateTime};
use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, ValidGrouping, is_aggregate};
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Bool, Date, Double, Nullable, Text, Timestamp};

use crate::Db;
use crate::connection::{Backend, DbConnection};

/// Which SQL dialect a connection speaks; the named places where the backends differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Dialect(pub(crate) Backend);

impl Dialect {
    /// The dialect of an open connection.
    pub(crate) fn of(conn: &DbConnection) -> Self {
        match conn {
            DbConnection::Postgresql(_) => Dialect(Backend::Postgres),
            DbConnection::Sqlite(_) => Dialect(Backend::Sqlite),
        }
    }
}

/// The `n`th (1-based) bind placeholder of a hand-written statement, in the connection's
/// syntax.
pub(crate) fn placeholder(conn: &DbConnection, n: usize) -> String {
    match Dialect::of(conn).0 {
        Backend::Postgres => format!("${n}"),
        Backend::Sqlite => "?".to_owned(),
    }
}

/// `n` placeholders from `first` on, comma-separated.
pub(crate) fn placeholders(conn: &DbConnection, first: usize, n: usize) -> String {
    (first..first + n).map(|i| placeholder(conn, i)).collect::<Vec<_>>().join(", ")
}

#[derive(Debug, Clone, PartialEq)]
enum Part {
    Sql(String),
    Text(String),
    Number(f64),
    Integer(i64),
    Flag(bool),
    Day(NaiveDate),
    Time(NaiveDateTime),
}

/// SQL text with bound values.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Fragment {
    parts: Vec<Part>,
}

impl Fragment {
    /// A fragment of trusted SQL text.
    pub(crate) fn sql(text: &str) -> Self {
        Fragment { parts: vec![Part::Sql(text.to_owned())] }
    }

    /// Appends trusted SQL text.
    pub(crate) fn push(mut self, text: &str) -> Self {
        self.parts.push(Part::Sql(text.to_owned()));
        self
    }

    /// Appends another fragment.
    pub(crate) fn append(mut self, other: Fragment) -> Self {
        self.parts.extend(other.parts);
        self
    }

    /// Appends a bound text value.
    pub(crate) fn text(mut self, value: impl Into<String>) -> Self {
        self.parts.push(Part::Text(value.into()));
        self
    }

    /// Appends a bound floating-point value.
    pub(crate) fn number(mut self, value: f64) -> Self {
        self.parts.push(Part::Number(value));
        self
    }

    /// Appends a bound 64-bit integer.
    pub(crate) fn integer(mut self, value: i64) -> Self {
        self.parts.push(Part::Integer(value));
        self
    }

    /// Appends a bound boolean.
    pub(crate) fn flag(mut self, value: bool) -> Self {
        self.parts.push(Part::Flag(value));
        self
    }

    /// Appends a bound date.
    pub(crate) fn day(mut self, value: NaiveDate) -> Self {
        self.parts.push(Part::Day(value));
        self
    }

    /// Appends a bound timestamp.
    pub(crate) fn time(mut self, value: NaiveDateTime) -> Self {
        self.parts.push(Part::Time(value));
        self
    }

    /// `(a) AND (b) AND ...`; the empty conjunction is true.
    pub(crate) fn all(parts: Vec<Fragment>) -> Fragment {
        Self::join(parts, " AND ", "1 = 1")
    }

    /// `(a) OR (b) OR ...`; the empty disjunction is false.
    pub(crate) fn any(parts: Vec<Fragment>) -> Fragment {
        Self::join(parts, " OR ", "1 = 0")
    }

    fn join(parts: Vec<Fragment>, separator: &str, empty: &str) -> Fragment {
        if parts.is_empty() {
            return Fragment::sql(empty);
        }
        let mut joined = Fragment::default();
        for (index, part) in parts.into_iter().enumerate() {
            if index > 0 {
                joined = joined.push(separator);
            }
            joined = joined.push("(").append(part).push(")");
        }
        joined
    }
}

impl Fragment {
    fn walk<'b>(&'b self, out: &mut AstPass<'_, 'b, Db>) -> diesel::QueryResult<()> {
        // Filters vary without bound; caching each shape's prepared statement would grow the
        // per-connection cache without limit.
        out.unsafe_to_cache_prepared();
        for part in &self.parts {
            match part {
                Part::Sql(text) => out.push_sql(text),
                Part::Text(value) => out.push_bind_param::<Text, _>(value)?,
                Part::Number(value) => out.push_bind_param::<Double, _>(value)?,
                Part::Integer(value) => out.push_bind_param::<BigInt, _>(value)?,
                Part::Flag(value) => out.push_bind_param::<Bool, _>(value)?,
                Part::Day(value) => out.push_bind_param::<Date, _>(value)?,
                Part::Time(value) => out.push_bind_param::<Timestamp, _>(value)?,
            }
        }
        Ok(())
    }
}

/// A fragment used as a condition is always parenthesised: diesel joins filters with a bare
/// ` AND `, so an unparenthesised `a OR b` would escape the visibility filter before it.
impl QueryFragment<Db> for Fragment {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Db>) -> diesel::QueryResult<()> {
        out.push_sql("(");
        self.walk(&mut out)?;
        out.push_sql(")");
        Ok(())
    }
}

/// A fragment used as an ORDER BY list (`a ASC, b DESC`), which must not be parenthesised.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OrderBy(pub(crate) Fragment);

impl QueryFragment<Db> for OrderBy {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Db>) -> diesel::QueryResult<()> {
        self.0.walk(&mut out)
    }
}

macro_rules! sql_expression {
    ($($fragment:ty),+) => {$(
        impl Expression for $fragment {
            type SqlType = Nullable<Bool>;
        }

        impl<QS> AppearsOnTable<QS> for $fragment {}

        impl<QS> SelectableExpression<QS> for $fragment {}

        impl ValidGrouping<()> for $fragment {
            type IsAggregate = is_aggregate::Never;
        }

        impl QueryId for $fragment {
            type QueryId = ();
            const HAS_STATIC_QUERY_ID: bool = false;
        }
    )+};
}

sql_expression!(Fragment, OrderBy);
