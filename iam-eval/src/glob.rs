//! Wildcard matching, in the three flavours the policy language has.
//!
//! - Actions ("IAM JSON policy elements: Action"): `*` and `?` anywhere, case-insensitive.
//! - `StringLike` values ("IAM JSON policy elements: Condition operators", string condition
//!   operators): `*` any run of characters, `?` one character, case-sensitive.
//! - ARNs in `Resource`/`NotResource` and the ARN condition operators ("IAM JSON policy
//!   elements: Resource", using wildcards in resource ARNs): `*` and `?` within the
//!   colon-separated segments, case-sensitive; a `*` that is the last character of a segment
//!   may expand past the colons that follow. A lone `*` matches every resource.
//!
//! `ArnEquals` and `ArnLike` behave identically ("Condition operators", ARN condition operators),
//! so both use [`arn`]. Everything else (`StringEquals`, `Bool`, principals) compares literally:
//! a `*` there is just a star.

/// One pattern character, with what a `*` may swallow.
#[derive(Clone, Copy)]
enum Token {
    Char(char),
    /// `*`; `crosses_colon` says whether it may match `:`.
    Star {
        crosses_colon: bool,
    },
    /// `?`; `colon` says whether it may match `:`.
    One {
        colon: bool,
    },
}

fn matches(tokens: &[Token], text: &[char], fold_case: bool) -> bool {
    // reachable[j]: the tokens consumed so far can match exactly text[..j].
    let mut reachable = vec![false; text.len() + 1];
    reachable[0] = true;
    for token in tokens {
        let mut next = vec![false; text.len() + 1];
        match *token {
            Token::Star { crosses_colon } => {
                let mut open = false;
                for j in 0..=text.len() {
                    if reachable[j] {
                        open = true;
                    }
                    next[j] = open;
                    if j < text.len() && text[j] == ':' && !crosses_colon {
                        open = false;
                    }
                }
            }
            Token::One { colon } => {
                for j in 0..text.len() {
                    next[j + 1] = reachable[j] && (colon || text[j] != ':');
                }
            }
            Token::Char(c) => {
                for j in 0..text.len() {
                    let same = if fold_case { text[j].to_lowercase().eq(c.to_lowercase()) } else { text[j] == c };
                    next[j + 1] = reachable[j] && same;
                }
            }
        }
        reachable = next;
        if !reachable.iter().any(|&r| r) {
            return false;
        }
    }
    reachable[text.len()]
}

fn plain_tokens(pattern: &str) -> Vec<Token> {
    pattern
        .chars()
        .map(|c| match c {
            '*' => Token::Star { crosses_colon: true },
            '?' => Token::One { colon: true },
            c => Token::Char(c),
        })
        .collect()
}

/// `StringLike`: `*` and `?` anywhere, case-sensitive.
pub(crate) fn like(pattern: &str, value: &str) -> bool {
    matches(&plain_tokens(pattern), &value.chars().collect::<Vec<_>>(), false)
}

/// An `Action`/`NotAction` entry against `service:Operation`, case-insensitive.
pub(crate) fn action(pattern: &str, action: &str) -> bool {
    matches(&plain_tokens(pattern), &action.chars().collect::<Vec<_>>(), true)
}

/// An ARN pattern (`Resource`, `ArnLike`, `ArnEquals`) against an ARN.
pub(crate) fn arn(pattern: &str, arn: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let chars: Vec<char> = pattern.chars().collect();
    let tokens: Vec<Token> = chars
        .iter()
        .enumerate()
        .map(|(i, &c)| match c {
            '*' => Token::Star { crosses_colon: chars.get(i + 1).is_none_or(|&n| n == ':') },
            '?' => Token::One { colon: false },
            c => Token::Char(c),
        })
        .collect();
    matches(&tokens, &arn.chars().collect::<Vec<_>>(), false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_fold_case_and_take_both_wildcards() {
        assert!(action("s3:GetObject", "s3:getobject"));
        assert!(action("S3:Get*", "s3:GetObjectVersion"));
        assert!(action("s3:*Object*", "s3:PutObjectAcl"));
        assert!(action("ecr:BatchGet?mage", "ecr:BatchGetImage"));
        assert!(action("*", "kms:Decrypt"));
        assert!(!action("s3:Get*", "s3:PutObject"));
        assert!(!action("s3:GetObject", "s3:GetObjectVersion"));
        assert!(!action("iam:*Report", "iam:ReportSomethingElse"));
    }

    #[test]
    fn like_is_case_sensitive_and_star_spans_anything() {
        assert!(like("arn:aws:iam::*:role/bokbasen/*", "arn:aws:iam::123456789012:role/bokbasen/a-b"));
        assert!(like("a?c", "abc"));
        assert!(!like("a?c", "ac"));
        assert!(!like("ABC", "abc"));
        assert!(like("", ""));
        assert!(!like("", "x"));
        assert!(like("*", ""));
    }

    #[test]
    fn arn_star_stays_in_its_segment_unless_it_ends_it() {
        // `*` in the middle of the resource segment: no colon there anyway.
        assert!(arn("arn:aws:s3:::*log*", "arn:aws:s3:::carlossalazar-logs/key"));
        // A segment-ending `*` may expand past colons.
        assert!(arn("arn:aws:codebuild:*", "arn:aws:codebuild:eu-north-1:123456789012:project/x"));
        assert!(arn(
            "arn:aws:logs:eu-north-1:123456789012:log-group:/aws/codebuild/svc-*",
            "arn:aws:logs:eu-north-1:123456789012:log-group:/aws/codebuild/svc-build:log-stream:abc"
        ));
        // A `*` followed by more of its segment does not cross a colon.
        assert!(!arn("arn:aws:ssm:eu-north-1:123456789012:a*b", "arn:aws:ssm:eu-north-1:123456789012:a:xb"));
        // `?` is one character, never a colon.
        assert!(arn("arn:aws:iam::12345678901?:root", "arn:aws:iam::123456789012:root"));
        assert!(!arn("arn:aws:iam::?123456789012:root", "arn:aws:iam:::123456789012:root"));
        // Case-sensitive.
        assert!(!arn("arn:aws:iam::123456789012:role/Build", "arn:aws:iam::123456789012:role/build"));
        assert!(arn("*", "anything:at:all"));
    }
}
