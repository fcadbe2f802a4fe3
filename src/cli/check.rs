//! `attrsync check`: configuration and every configured service, one line each.

use std::process::ExitCode;

use super::Context;
use crate::config::{SinkKind, SourceKind};
use crate::store::RunStore;

/// One check's result.
struct Line {
    name: String,
    ok: bool,
    detail: String,
}

/// Every line is reported, whatever failed before it: configuration problems (each key), then
/// every service that can be reached with the rest.
pub async fn execute(ctx: &Context, problems: Vec<crate::config::ConfigError>) -> ExitCode {
    let mut lines = if problems.is_empty() {
        vec![Line {
            name: "config".into(),
            ok: true,
            detail: "valid".into(),
        }]
    } else {
        problems
            .iter()
            .map(|p| Line {
                name: "config".into(),
                ok: false,
                detail: p.to_string(),
            })
            .collect()
    };
    let s = &ctx.settings;
    lines.push(match ctx.store().await {
        Ok(store) => match store.ping().await {
            Ok(()) => Line {
                name: format!("run store ({})", store.kind()),
                ok: true,
                detail: "reachable, migrations applied".into(),
            },
            Err(e) => Line {
                name: "run store".into(),
                ok: false,
                detail: format!("{e:#}; check run_store.url and that the database is up"),
            },
        },
        Err(e) => Line {
            name: "run store".into(),
            ok: false,
            detail: format!("{e:#}; check run_store.url and that the database is up"),
        },
    });
    if s.source.kind == SourceKind::File {
        let p = &s.source.path;
        lines.push(match std::fs::metadata(p) {
            Ok(m) if m.is_file() => Line { name: "source (file)".into(), ok: true, detail: format!("{} ({} bytes)", p.display(), m.len()) },
            _ => Line {
                name: "source (file)".into(),
                ok: false,
                detail: format!("{} is not a readable file; set source.path or run `attrsync generate --out {}`", p.display(), p.display()),
            },
        });
    }
    if s.source.kind == SourceKind::Posthog {
        let name = format!("source (posthog {})", s.posthog.host);
        lines.push(match ctx.source() {
            Ok(crate::sources::AnySource::PostHog(ph)) => match ph.check().await {
                Ok(()) => Line {
                    name,
                    ok: true,
                    detail: "the key may query the project".into(),
                },
                Err(e) => Line {
                    name,
                    ok: false,
                    detail: e.to_string(),
                },
            },
            Ok(_) => unreachable!("source.kind is posthog"),
            Err(e) => Line {
                name,
                ok: false,
                detail: format!("{e:#}"),
            },
        });
    }
    if s.source.kind == SourceKind::BigqueryExport {
        let table = s.bigquery_export.table.clone().unwrap_or_default();
        let name = format!("source (bigquery_export {table})");
        lines.push(match ctx.source() {
            Ok(crate::sources::AnySource::BigQueryExport(bq)) => match bq.check().await {
                Ok(schema) => Line {
                    name,
                    ok: true,
                    detail: schema.describe(),
                },
                Err(e) => Line {
                    name,
                    ok: false,
                    detail: e.to_string(),
                },
            },
            Ok(_) => unreachable!("source.kind is bigquery_export"),
            Err(e) => Line {
                name,
                ok: false,
                detail: format!("{e:#}"),
            },
        });
    }
    if s.sink.kind == SinkKind::Bigquery {
        let name = format!("sink (bigquery {})", s.bigquery.dataset);
        lines.push(match ctx.sink().await {
            Ok(crate::sinks::AnySink::BigQuery(bq)) => match bq.ensure().await {
                Ok(()) => Line {
                    name,
                    ok: true,
                    detail: format!(
                        "dataset, tables and views are in place ({})",
                        bq.auth().describe()
                    ),
                },
                Err(e) => Line {
                    name,
                    ok: false,
                    detail: e.to_string(),
                },
            },
            Ok(_) => unreachable!("sink.kind is bigquery"),
            Err(e) => Line {
                name,
                ok: false,
                detail: format!("{e:#}"),
            },
        });
    }
    if let Ok(Some(engine)) = ctx.engine() {
        lines.push(match engine.prepare().await {
            Ok(detail) => Line {
                name: "engine (bigquery)".into(),
                ok: true,
                detail,
            },
            Err((_, e)) => Line {
                name: "engine (bigquery)".into(),
                ok: false,
                detail: format!("{e:#}"),
            },
        });
    }
    if s.sink.kind == SinkKind::Local && !s.sink.dir.as_os_str().is_empty() {
        let d = &s.sink.dir;
        // Writing a file proves it: a directory can exist and still refuse writes.
        let probe = d.join(".attrsync-check");
        let tried = std::fs::create_dir_all(d)
            .and_then(|_| std::fs::write(&probe, b"probe"))
            .and_then(|_| std::fs::remove_file(&probe));
        lines.push(Line {
            name: "sink (local)".into(),
            ok: tried.is_ok(),
            detail: match tried {
                Ok(()) => format!("{} is writable", d.display()),
                Err(e) => format!(
                    "cannot write to {}: {e}; set sink.dir to a writable directory",
                    d.display()
                ),
            },
        });
    }
    lines.extend(ad_lines(ctx).await);
    let mut failed = 0;
    for l in &lines {
        if !l.ok {
            failed += 1;
        }
        println!(
            "{} {:<22} {}",
            if l.ok { "ok  " } else { "FAIL" },
            l.name,
            crate::redact::redact(&l.detail)
        );
    }
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        println!("{failed} check(s) failed");
        ExitCode::FAILURE
    }
}

/// One line per ad account: today's campaign-days pulled, which proves credentials, version
/// and account access (the file source: that the file parses).
async fn ad_lines(ctx: &Context) -> Vec<Line> {
    use crate::ads::AdSource;
    let vault = match ctx.store_lazy().await {
        Ok(store) => ctx.vault(&store).ok().flatten(),
        Err(_) => None,
    };
    let sources = match ctx.ad_sources(vault) {
        Ok(s) => s,
        Err(e) => {
            return vec![Line {
                name: "ads".into(),
                ok: false,
                detail: format!("{e:#}"),
            }]
        }
    };
    let mut out = Vec::new();
    for src in &sources {
        let name = src.job();
        let zone = match src.resolve().await {
            Ok(r) => r,
            Err(e) => {
                out.push(Line {
                    name,
                    ok: false,
                    detail: format!("{e:#}"),
                });
                continue;
            }
        };
        let (from, to) = src
            .window()
            .map(|(_, t)| (t, t))
            .unwrap_or(crate::ads::EVERY_DAY);
        let pulled =
            tokio::time::timeout(std::time::Duration::from_secs(120), src.fetch(from, to)).await;
        out.push(match pulled {
            Ok(Ok(rows)) => Line {
                name,
                ok: true,
                detail: format!(
                    "reachable; {} campaign-day rows for {}{}",
                    rows.len(),
                    if from == to {
                        to.to_string()
                    } else {
                        "the file".into()
                    },
                    zone.map_or(String::new(), |z| format!(
                        " (account days in {}{}){}",
                        z.zone_name,
                        z.currency
                            .map_or(String::new(), |c| format!(", {}", c.as_str())),
                        z.notes
                            .iter()
                            .map(|n| format!("; warning: {n}"))
                            .collect::<String>()
                    ))
                ),
            },
            Ok(Err(e)) => Line {
                name,
                ok: false,
                detail: format!("{e:#}"),
            },
            Err(_) => Line {
                name,
                ok: false,
                detail: "no answer within 120 s".into(),
            },
        });
    }
    out
}
