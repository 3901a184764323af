//! Step 1 and the glue of loading: finding and reading the file, parsing it with positions,
//! running the key walk, layering the overrides and resolving the values.

use std::path::{Path, PathBuf};

use secrecy::SecretString;

use super::raw::{layer, Node};
use super::report::{join, line_starts, At, Report, Sites};
use super::schema::{Kind, ADOBE, ROOT, ZOHO};
use super::types::*;
use super::validate::Resolve;
use super::walk::{Walk, ENV_PREFIX};

/// Loads and validates the profile at `path`, or at `$PROVISION_PROFILE`, or `profiles/default.toml`,
/// with `${VAR}` and `PROVISION_<SECTION>__<KEY>` taken from the process environment.
pub fn load(path: Option<&Path>) -> Result<Profile, ProfileError> {
    load_with_env(path, &process_env())
}

/// [`load`] with an explicit environment (for tests and embedding).
pub fn load_with_env(path: Option<&Path>, env: &Env) -> Result<Profile, ProfileError> {
    let (path, text) = read(path, env)?;
    parse_with(&text, &path, env, file_mode(&path))
}

/// The profile `provision zoho token` reads, if any: the given path or `$PROVISION_PROFILE` (both
/// must exist), else `profiles/default.toml` only when that file exists.
pub fn zoho_client_profile(explicit: Option<&Path>, env: &Env) -> Option<PathBuf> {
    let (path, origin) = resolve_path(explicit, env);
    let optional = origin == DEFAULT_ORIGIN;
    (!optional || path.is_file()).then_some(path)
}

/// Loads only the `[zoho]` client settings of the profile at `path` (see [`ZohoClientNeeds`]),
/// with the same `${VAR}`, override and error-position rules as [`load`].
pub fn load_zoho_client(
    path: &Path,
    env: &Env,
    needs: ZohoClientNeeds,
) -> Result<ZohoClientSettings, ProfileError> {
    let (path, text) = read(Some(path), env)?;
    let mode = file_mode(&path);
    resolve_with(&text, &path, env, mode, |resolve, raw| {
        resolve.zoho_client(raw.section("zoho"), needs, &path)
    })
}

/// The process environment, for [`load_zoho_client`] and the other `*_with_env` functions.
pub fn process_env() -> Env {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// A secret held in the environment variable `var` (e.g. named by `--client-secret-env`).
pub fn secret_from_env(env: &Env, var: &str) -> Result<SecretString, String> {
    match env.get(var) {
        Some(value) if !value.trim().is_empty() => Ok(SecretString::from(value.clone())),
        Some(_) => Err(format!(
            "environment variable {var} is empty; export {var}=..."
        )),
        None => Err(format!(
            "environment variable {var} is not set (or not UTF-8); export {var}=... first"
        )),
    }
}

fn read(path: Option<&Path>, env: &Env) -> Result<(PathBuf, String), ProfileError> {
    let (path, origin) = resolve_path(path, env);
    let bytes = std::fs::read(&path).map_err(|e| {
        let what = match e.kind() {
            std::io::ErrorKind::NotFound => "not found".to_owned(),
            _ => format!("cannot be read ({e})"),
        };
        ProfileError {
            message: format!(
                "profile {} {what} (it was {origin}); pass a profile path, set {PROFILE_ENV}, \
                 or start from profiles/example.toml",
                path.display()
            ),
        }
    })?;
    let text = String::from_utf8(bytes).map_err(|e| ProfileError {
        message: format!(
            "{}: the profile is not valid UTF-8 (byte {}); save it as UTF-8",
            path.display(),
            e.utf8_error().valid_up_to()
        ),
    })?;
    Ok((path, text))
}

/// Parses and validates profile text as if it had been read from `path` (which is only used in
/// messages). Never panics, whatever the input.
pub fn parse(text: &str, path: &Path, env: &Env) -> Result<Profile, ProfileError> {
    parse_with(text, path, env, None)
}

/// The profile path to use, and how it was chosen (for messages).
pub fn resolve_path(explicit: Option<&Path>, env: &Env) -> (PathBuf, &'static str) {
    if let Some(path) = explicit {
        return (path.to_owned(), "given on the command line");
    }
    match env.get(PROFILE_ENV) {
        Some(path) if !path.is_empty() => (PathBuf::from(path), "named by $PROVISION_PROFILE"),
        _ => (PathBuf::from(DEFAULT_PROFILE), DEFAULT_ORIGIN),
    }
}

const DEFAULT_ORIGIN: &str = "the default profile path";

#[cfg(unix)]
fn file_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o777)
}

#[cfg(not(unix))]
fn file_mode(_path: &Path) -> Option<u32> {
    None
}

fn parse_with(
    text: &str,
    path: &Path,
    env: &Env,
    mode: Option<u32>,
) -> Result<Profile, ProfileError> {
    resolve_with(text, path, env, mode, |resolve, raw| {
        resolve.profile(raw, path)
    })
}

/// Steps 1-3 on the whole file, then `resolve` (step 4) on the layered values: only the parts
/// that `resolve` reads are interpolated and checked.
fn resolve_with<T>(
    text: &str,
    path: &Path,
    env: &Env,
    mode: Option<u32>,
    resolve: impl FnOnce(&mut Resolve<'_>, Node) -> Option<T>,
) -> Result<T, ProfileError> {
    let mut walk = Walk {
        text,
        lines: line_starts(text),
        sites: Sites::default(),
        report: Report {
            path,
            problems: Vec::new(),
        },
    };

    if text.trim().is_empty() {
        walk.report.add(
            "",
            At::Nowhere,
            "the profile is empty; start from profiles/example.toml (every key is described in docs/profile.md)",
        );
        return Err(walk.report.into_error());
    }
    let document = match toml::de::DeTable::parse(text) {
        Ok(document) => document,
        Err(e) => {
            let at = e.span().map_or(At::Nowhere, |s| walk.pos(s));
            // `e.message()` only: the full `Display` quotes the source line, which may hold a secret.
            let message = format!(
                "TOML syntax error: {}; fix the file (see profiles/example.toml)",
                e.message().trim_end()
            );
            walk.report.add("", at, message);
            return Err(walk.report.into_error());
        }
    };
    walk.table("", document.get_ref(), ROOT);
    let overrides = walk.env_overrides(env);
    if let Some(mode) = mode {
        literal_secrets(&mut walk, document.get_ref(), mode);
    }
    if !walk.report.problems.is_empty() {
        return Err(walk.report.into_error());
    }

    let raw = match layer(text, overrides) {
        Ok(raw) => raw,
        Err(e) => {
            // The walk above rejects what the TOML reader would; this is a last resort, without
            // the quoted source line (which may hold a secret) and scrubbed of override values.
            let message = format!(
                "could not read the profile: {}",
                scrub(e.message().trim_end(), env)
            );
            walk.report.add("", At::Nowhere, message);
            return Err(walk.report.into_error());
        }
    };

    let mut resolver = Resolve {
        env,
        sites: &walk.sites,
        report: walk.report,
    };
    match resolve(&mut resolver, raw) {
        Some(value) if resolver.report.problems.is_empty() => Ok(value),
        _ => Err(resolver.report.into_error()),
    }
}

/// Removes the values of `PROVISION_*` variables from a message, in case a library quoted one.
fn scrub(message: &str, env: &Env) -> String {
    let mut out = message.to_owned();
    for (var, value) in env {
        if var.starts_with(ENV_PREFIX) && value.len() >= 4 {
            out = out.replace(value.as_str(), "[REDACTED]");
        }
    }
    out
}

/// A secret written literally (not as `${VAR}`) is only acceptable in a file no one else can read.
fn literal_secrets(walk: &mut Walk<'_>, document: &toml::de::DeTable<'_>, mode: u32) {
    if mode & 0o077 == 0 {
        return;
    }
    for (section, fields) in [("adobe", ADOBE), ("zoho", ZOHO)] {
        let Some(table) = document.get(section).and_then(|v| v.get_ref().as_table()) else {
            continue;
        };
        for f in fields.iter().filter(|f| matches!(f.kind, Kind::Secret)) {
            let key = join(section, f.name);
            if walk.sites.env.contains_key(&key) {
                continue;
            }
            let Some(value) = table.get(f.name) else {
                continue;
            };
            if value.get_ref().as_str().is_some_and(|s| !s.contains("${")) {
                let at = walk.pos(value.span());
                let message = format!(
                    "a secret is written literally in a file that others can read (mode {mode:04o}); \
                     use \"${{VAR}}\" and export VAR, set {ENV_PREFIX}{}__{}, or chmod 600 the file",
                    section.to_ascii_uppercase(),
                    f.name.to_ascii_uppercase()
                );
                walk.report.add(&key, at, message);
            }
        }
    }
}
