//! Function-call forms: aggregates, `by`, `select`, `coalesce`, metrics functions, `topk`.

use super::Parser;
use super::node::Call;
use crate::ast::{
    Aggregate, Compare, CompareWindow, DEFAULT_COMPARE_TOP_N, FirstStage, MetricsAggregate,
    MetricsFunction,
};
use crate::error::ParseError;
use crate::token::{Keyword, Punct, TokenKind};

impl Parser<'_> {
    /// Parses the call starting with `keyword` and returns it with its height, or returns
    /// `None` (nothing consumed) if the keyword does not start a call.
    pub(super) fn call(&mut self, keyword: Keyword) -> Result<Option<(Call, u32)>, ParseError> {
        let mut height = 1;
        let mut field = |parser: &mut Self| -> Result<crate::ast::FieldExpr, ParseError> {
            let (expr, expr_height) = parser.field_argument()?;
            height = expr_height + 1;
            Ok(expr)
        };
        let call = match keyword {
            Keyword::Count => {
                self.advance();
                self.empty_arguments()?;
                Call::Aggregate(Aggregate::Count)
            }
            Keyword::Avg => Call::Aggregate(Aggregate::Avg(field(self)?)),
            Keyword::Max => Call::Aggregate(Aggregate::Max(field(self)?)),
            Keyword::Min => Call::Aggregate(Aggregate::Min(field(self)?)),
            Keyword::Sum => Call::Aggregate(Aggregate::Sum(field(self)?)),
            Keyword::By => Call::By(field(self)?),
            Keyword::Select => {
                self.advance();
                self.expect_punct(Punct::LParen)?;
                let attributes = self.attribute_list()?;
                self.close_arguments()?;
                Call::Select(attributes)
            }
            Keyword::Coalesce => {
                self.advance();
                self.empty_arguments()?;
                Call::Coalesce
            }
            Keyword::Rate => self.metrics_call(MetricsFunction::Rate)?,
            Keyword::CountOverTime => self.metrics_call(MetricsFunction::CountOverTime)?,
            Keyword::MinOverTime => self.metrics_attribute_call(MetricsFunction::MinOverTime)?,
            Keyword::MaxOverTime => self.metrics_attribute_call(MetricsFunction::MaxOverTime)?,
            Keyword::SumOverTime => self.metrics_attribute_call(MetricsFunction::SumOverTime)?,
            Keyword::AvgOverTime => self.metrics_attribute_call(MetricsFunction::AvgOverTime)?,
            Keyword::HistogramOverTime => {
                self.metrics_attribute_call(MetricsFunction::HistogramOverTime)?
            }
            Keyword::QuantileOverTime => self.quantile_call()?,
            Keyword::Compare => {
                let (call, filter_height) = self.compare_call()?;
                height = filter_height + 1;
                call
            }
            Keyword::TopK => Call::TopK(self.limit_argument()?),
            Keyword::BottomK => Call::BottomK(self.limit_argument()?),
            _ => return Ok(None),
        };
        Ok(Some((call, height)))
    }

    fn empty_arguments(&mut self) -> Result<(), ParseError> {
        self.expect_punct(Punct::LParen)?;
        if !self.at_punct(Punct::RParen) {
            return Err(self.unexpected("`)` (this function takes no arguments)"));
        }
        self.advance();
        Ok(())
    }

    fn close_arguments(&mut self) -> Result<(), ParseError> {
        if !self.at_punct(Punct::RParen) {
            return Err(self.unexpected("`,` or `)`"));
        }
        self.advance();
        Ok(())
    }

    /// `name(fieldExpression)` with the name not yet consumed; returns the expression and
    /// its height.
    fn field_argument(&mut self) -> Result<(crate::ast::FieldExpr, u32), ParseError> {
        self.advance();
        self.expect_punct(Punct::LParen)?;
        let parsed = self.field_expr()?;
        if !self.at_punct(Punct::RParen) {
            return Err(self.unexpected("an operator or `)`"));
        }
        self.advance();
        Ok(parsed)
    }

    /// `name(n)` with a non-negative integer literal.
    fn limit_argument(&mut self) -> Result<i64, ParseError> {
        self.advance();
        self.expect_punct(Punct::LParen)?;
        let TokenKind::Int(limit) = *self.peek_kind() else {
            return Err(self.unexpected("an integer limit"));
        };
        self.advance();
        self.expect_punct(Punct::RParen)?;
        Ok(limit)
    }

    fn metrics_call(&mut self, function: MetricsFunction) -> Result<Call, ParseError> {
        self.advance();
        self.empty_arguments()?;
        self.metrics_group_by(function)
    }

    fn metrics_attribute_call(
        &mut self,
        function: fn(crate::ast::Attribute) -> MetricsFunction,
    ) -> Result<Call, ParseError> {
        self.advance();
        self.expect_punct(Punct::LParen)?;
        let attribute = self.attribute()?;
        if !self.at_punct(Punct::RParen) {
            return Err(self.unexpected("`)`"));
        }
        self.advance();
        self.metrics_group_by(function(attribute))
    }

    fn quantile_call(&mut self) -> Result<Call, ParseError> {
        self.advance();
        self.expect_punct(Punct::LParen)?;
        let attribute = self.attribute()?;
        if !self.at_punct(Punct::Comma) {
            return Err(self.unexpected("`,` followed by one or more quantiles"));
        }
        let mut quantiles = Vec::new();
        while self.eat_punct(Punct::Comma) {
            let quantile = match *self.peek_kind() {
                TokenKind::Int(value) => value as f64,
                TokenKind::Float(value) => value,
                _ => return Err(self.unexpected("a quantile (an integer or float literal)")),
            };
            self.advance();
            quantiles.push(quantile);
        }
        self.close_arguments()?;
        self.metrics_group_by(MetricsFunction::QuantileOverTime {
            attribute,
            quantiles,
        })
    }

    /// Optional `by (a, b)` after a first-stage function.
    fn metrics_group_by(&mut self, function: MetricsFunction) -> Result<Call, ParseError> {
        let mut by = Vec::new();
        if self.at_keyword(Keyword::By) {
            self.advance();
            self.expect_punct(Punct::LParen)?;
            by = self.attribute_list()?;
            self.close_arguments()?;
        }
        Ok(Call::FirstStage(FirstStage::Aggregate(MetricsAggregate {
            function,
            by,
        })))
    }

    /// `compare({filter})`, `compare({filter}, topN)` or `compare({filter}, topN, start, end)`.
    fn compare_call(&mut self) -> Result<(Call, u32), ParseError> {
        self.advance();
        self.expect_punct(Punct::LParen)?;
        if !self.at_punct(Punct::LBrace) {
            return Err(self.unexpected("a spanset filter `{ ... }`"));
        }
        let (filter, filter_height) = self.spanset_filter()?;
        let mut numbers = Vec::new();
        while self.eat_punct(Punct::Comma) {
            let TokenKind::Int(value) = *self.peek_kind() else {
                return Err(self.unexpected("an integer literal"));
            };
            self.advance();
            numbers.push(value);
        }
        let close_at = self.peek().start;
        self.close_arguments()?;
        let (top_n, window) = match numbers.as_slice() {
            [] => (DEFAULT_COMPARE_TOP_N, None),
            [top_n] => (*top_n, None),
            [top_n, 0, 0] => (*top_n, None),
            [top_n, start, end] => (
                *top_n,
                Some(CompareWindow {
                    start: *start,
                    end: *end,
                }),
            ),
            _ => {
                return Err(self.error_at(
                    close_at,
                    format!(
                        "expected compare() to take a filter, a filter and topN, or a filter, topN, start and end but found {} numbers",
                        numbers.len()
                    ),
                ));
            }
        };
        let call = Call::FirstStage(FirstStage::Compare(Compare {
            filter,
            top_n,
            window,
        }));
        Ok((call, filter_height))
    }
}
