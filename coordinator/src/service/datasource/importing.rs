//! `ImportDataSources`: every row of a CSV or YAML document checked first (name, type,
//! environment, options, duplicates, names taken), then every data source created in one
//! transaction, or none.

use super::{kind_of, to_proto, DataSourceServiceImpl};
use crate::error::{CoordinatorError, Result};
use crate::import::{self, ImportFormat, ImportProblem, ImportRow, RowPosition};
use crate::workspaces;
use sluice_common::meta::keys;
use sluice_common::records::{self, now_ms, DataSourceRecord, DATA_SOURCE_RECORD_VERSION};
use sluice_common::spec::is_valid_name;
use sluice_proto::v1 as pb;
use std::collections::{BTreeMap, HashMap};

/// Most data sources one import may create: etcd's default limit of operations per
/// transaction (`--max-txn-ops` 128), which keeps the import one transaction.
pub const MAX_IMPORTED_DATA_SOURCES: usize = 128;

/// Turns the problems into the request's error: every problem, then that nothing was written.
fn refused(problems: &[ImportProblem]) -> CoordinatorError {
    let lines: Vec<String> = problems
        .iter()
        .map(|problem| format!("  {problem}"))
        .collect();
    CoordinatorError::invalid(
        "content",
        format!(
            "{} problem{} found, nothing was imported:\n{}",
            problems.len(),
            if problems.len() == 1 { "" } else { "s" },
            lines.join("\n")
        ),
    )
}

impl DataSourceServiceImpl {
    /// Checks every row, then creates every data source at once.
    pub(crate) async fn import(
        &self,
        request: pb::ImportDataSourcesRequest,
    ) -> Result<pb::ImportDataSourcesResponse> {
        let workspace_name = workspaces::name_or_default(&request.workspace);
        let (workspace, _) = workspaces::load(self.store.as_ref(), &workspace_name).await?;
        let format = match pb::ImportFormat::try_from(request.format) {
            Ok(pb::ImportFormat::Csv) => ImportFormat::Csv,
            Ok(pb::ImportFormat::Yaml) => ImportFormat::Yaml,
            _ => ImportFormat::guess(&request.content),
        };
        let rows =
            import::parse(&request.content, format).map_err(|problems| refused(&problems))?;
        let mut problems = Vec::new();
        let mut data_sources: BTreeMap<String, DataSourceRecord> = BTreeMap::new();
        let mut first_seen: HashMap<(String, String), RowPosition> = HashMap::new();
        let now = now_ms();
        for row in rows {
            self.check_row(
                row,
                &workspace,
                now,
                &mut data_sources,
                &mut first_seen,
                &mut problems,
            )
            .await?;
        }
        if data_sources.len() > MAX_IMPORTED_DATA_SOURCES {
            problems.push(ImportProblem::at(
                None,
                "",
                format!(
                    "creates {} data sources; one import creates at most {MAX_IMPORTED_DATA_SOURCES} (one metadata transaction): split the file",
                    data_sources.len()
                ),
            ));
        }
        if !problems.is_empty() {
            return Err(refused(&problems));
        }
        let entries: Vec<(String, Vec<u8>)> = data_sources
            .values()
            .map(|record| {
                (
                    keys::datasource(&record.workspace, &record.name),
                    records::encode(record),
                )
            })
            .collect();
        if self.store.create_all(entries).await?.is_none() {
            return Err(CoordinatorError::FailedPrecondition(
                "a data source of the file was created by someone else meanwhile; nothing was imported: run the import again to see which".to_string(),
            ));
        }
        tracing::info!(workspace = %workspace_name, count = data_sources.len(), "data sources imported");
        Ok(pb::ImportDataSourcesResponse {
            data_sources: data_sources.values().map(to_proto).collect(),
        })
    }

    /// Checks one row and adds its config to `data_sources`, or records its problems.
    async fn check_row(
        &self,
        row: ImportRow,
        workspace: &records::WorkspaceRecord,
        now: i64,
        data_sources: &mut BTreeMap<String, DataSourceRecord>,
        first_seen: &mut HashMap<(String, String), RowPosition>,
        problems: &mut Vec<ImportProblem>,
    ) -> Result<()> {
        let position = Some(row.position);
        let count_before = problems.len();
        if !is_valid_name(&row.name) {
            problems.push(ImportProblem::at(
                position,
                "name",
                "is not a valid name: use letters, digits, `_` and `-` (at most 128)",
            ));
        }
        let kind = match kind_of(&row.kind) {
            Ok(kind) => Some(kind),
            Err(error) => {
                problems.push(ImportProblem::at(
                    position,
                    "type",
                    error
                        .to_string()
                        .trim_start_matches("data_source.type: ")
                        .to_string(),
                ));
                None
            }
        };
        let environment = workspaces::environment_or_prod(&row.environment);
        if let Err(error) = workspaces::check_environment(workspace, &environment, "environment") {
            problems.push(ImportProblem::at(position, "", error.to_string()));
        }
        if let Some(earlier) =
            first_seen.insert((row.name.clone(), environment.clone()), row.position)
        {
            problems.push(ImportProblem::at(
                position,
                "environment",
                format!(
                    "data source {} already has a {environment} config at {earlier}: one row per data source and environment",
                    row.name
                ),
            ));
        }
        if let Some(existing) = data_sources.get(&row.name) {
            if kind.is_some_and(|kind| kind.name != existing.kind) {
                problems.push(ImportProblem::at(
                    position,
                    "type",
                    format!(
                        "is {} but an earlier row made data source {} a {}",
                        row.kind, row.name, existing.kind
                    ),
                ));
            }
        } else if is_valid_name(&row.name)
            && self
                .store
                .get(&keys::datasource(&workspace.name, &row.name))
                .await?
                .is_some()
        {
            problems.push(ImportProblem::at(
                position,
                "name",
                format!(
                    "data source {} already exists in workspace {}: import creates only; change it with `sluice ds update`",
                    row.name, workspace.name
                ),
            ));
        }
        let Some(kind) = kind else {
            return Ok(());
        };
        let config = match self.config(
            kind,
            row.options.into_iter().collect(),
            row.secrets.into_iter().collect(),
            None,
        ) {
            Ok(config) => config,
            Err(CoordinatorError::InvalidSpec(errors)) => {
                for error in errors.0 {
                    problems.push(ImportProblem::at(
                        position,
                        error.path.trim_start_matches("data_source.").to_string(),
                        error.message,
                    ));
                }
                return Ok(());
            }
            Err(other) => return Err(other),
        };
        if problems.len() > count_before {
            return Ok(());
        }
        let record = data_sources
            .entry(row.name.clone())
            .or_insert_with(|| DataSourceRecord {
                v: DATA_SOURCE_RECORD_VERSION,
                workspace: workspace.name.clone(),
                name: row.name.clone(),
                kind: kind.name.to_string(),
                description: String::new(),
                configs: BTreeMap::new(),
                created_at_ms: now,
                updated_at_ms: now,
            });
        if !row.description.is_empty() {
            record.description = row.description;
        }
        record.configs.insert(environment, config);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::leader::LeaderSlot;
    use sluice_common::meta::embedded::EmbeddedStore;
    use sluice_common::meta::MetaStore;
    use sluice_common::secrets::{SecretCipher, SecretKey};
    use std::sync::Arc;

    async fn service() -> (tempfile::TempDir, DataSourceServiceImpl, Arc<EmbeddedStore>) {
        let directory = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(
            EmbeddedStore::open(directory.path().join("meta.redb"))
                .await
                .expect("store"),
        );
        let cipher = SecretCipher::new(SecretKey::generate().expect("key"));
        let service = DataSourceServiceImpl::new(store.clone(), cipher, LeaderSlot::default());
        (directory, service, store)
    }

    fn csv(content: &str) -> pb::ImportDataSourcesRequest {
        pb::ImportDataSourcesRequest {
            workspace: String::new(),
            content: content.to_string(),
            format: pb::ImportFormat::Csv as i32,
        }
    }

    #[tokio::test]
    async fn a_bad_third_row_creates_nothing_and_every_problem_names_its_line() {
        let (_directory, service, store) = service().await;
        let content = "name,type,environment,host,database,user,password,path\n\
                       pg,postgresql,,h,d,u,secret-one,\n\
                       lite,sqlite,,,,,,/tmp/x.db\n\
                       bad,mysql,,h,,u,secret-two,\n\
                       devonly,sqlite,dev,,,,,/tmp/y.db\n\
                       pg,postgresql,prod,h,d,u,,\n";
        let error = service.import(csv(content)).await.expect_err("refused");
        let message = error.to_string();
        assert!(message.contains("nothing was imported"), "{message}");
        assert!(
            message.contains("line 4: options.database: is required"),
            "{message}"
        );
        assert!(
            message.contains("line 5: environment: workspace default is basic"),
            "{message}"
        );
        assert!(
            message.contains(
                "line 6: environment: data source pg already has a prod config at line 2"
            ),
            "{message}"
        );
        assert!(!message.contains("secret-"), "{message}");
        assert!(store
            .list_prefix(&keys::datasources_prefix("default"))
            .await
            .expect("list")
            .is_empty());

        let good = "name,type,host,database,user,password,path\n\
                    pg,postgresql,h,d,u,secret-one,\n\
                    lite,sqlite,,,,,/tmp/x.db\n";
        let created = service.import(csv(good)).await.expect("imports");
        let names: Vec<&str> = created
            .data_sources
            .iter()
            .map(|data_source| data_source.name.as_str())
            .collect();
        assert_eq!(names, ["lite", "pg"]);
        assert_eq!(created.data_sources[1].secrets["password"], "***");
        let stored = store
            .get(&keys::datasource("default", "pg"))
            .await
            .expect("get")
            .expect("stored");
        assert!(!String::from_utf8_lossy(&stored.value).contains("secret-one"));

        let again = service.import(csv(good)).await.expect_err("exists");
        assert!(
            again
                .to_string()
                .contains("line 2: name: data source pg already exists"),
            "{again}"
        );
    }
}
