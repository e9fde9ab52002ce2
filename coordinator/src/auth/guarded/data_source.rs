//! The guard of `sluice.v1.DataSourceService`.

use super::{Guard, Stored};
use crate::auth::permissions::{Environment, Operation};
use sluice_proto::v1 as pb;
use sluice_proto::v1::data_source_service_server::DataSourceService;
use tonic::{Request, Response, Status};

/// `DataSourceService` behind the permission table: reads for every role, writes by the
/// environment they touch.
pub struct GuardedDataSourceService<S> {
    inner: S,
    guard: Guard,
}

impl<S> GuardedDataSourceService<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, guard: Guard) -> Self {
        GuardedDataSourceService { inner, guard }
    }
}

#[tonic::async_trait]
impl<S: DataSourceService> DataSourceService for GuardedDataSourceService<S> {
    async fn create(
        &self,
        mut request: Request<pb::CreateDataSourceRequest>,
    ) -> Result<Response<pb::DataSource>, Status> {
        self.guard
            .admit_record(
                &mut request,
                "DataSourceService.Create",
                |message| message.data_source.as_mut(),
                |record| (&mut record.workspace, record.environment.as_str()),
                Operation::WriteDataSource,
            )
            .await?;
        self.inner.create(request).await
    }

    async fn get(
        &self,
        mut request: Request<pb::GetDataSourceRequest>,
    ) -> Result<Response<pb::DataSource>, Status> {
        self.guard
            .admit(
                &mut request,
                "DataSourceService.Get",
                |message| &mut message.workspace,
                Operation::Read,
            )
            .await?;
        self.inner.get(request).await
    }

    async fn list(
        &self,
        mut request: Request<pb::ListDataSourcesRequest>,
    ) -> Result<Response<pb::ListDataSourcesResponse>, Status> {
        self.guard
            .admit(
                &mut request,
                "DataSourceService.List",
                |message| &mut message.workspace,
                Operation::Read,
            )
            .await?;
        self.inner.list(request).await
    }

    async fn update(
        &self,
        mut request: Request<pb::UpdateDataSourceRequest>,
    ) -> Result<Response<pb::DataSource>, Status> {
        self.guard
            .admit_record(
                &mut request,
                "DataSourceService.Update",
                |message| message.data_source.as_mut(),
                |record| (&mut record.workspace, record.environment.as_str()),
                Operation::WriteDataSource,
            )
            .await?;
        self.inner.update(request).await
    }

    async fn delete(
        &self,
        mut request: Request<pb::DeleteDataSourceRequest>,
    ) -> Result<Response<pb::DeleteDataSourceResponse>, Status> {
        self.guard
            .admit_stored(
                &mut request,
                "DataSourceService.Delete",
                Stored::DataSource,
                |message| (&mut message.workspace, message.name.clone()),
                Operation::WriteDataSource,
            )
            .await?;
        self.inner.delete(request).await
    }

    async fn clone_data_source(
        &self,
        mut request: Request<pb::CloneDataSourceRequest>,
    ) -> Result<Response<pb::DataSource>, Status> {
        self.guard
            .admit_stored(
                &mut request,
                "DataSourceService.CloneDataSource",
                Stored::DataSource,
                |message| (&mut message.workspace, message.name.clone()),
                Operation::WriteDataSource,
            )
            .await?;
        self.inner.clone_data_source(request).await
    }

    async fn test_connectivity(
        &self,
        mut request: Request<pb::TestConnectivityRequest>,
    ) -> Result<Response<pb::TestConnectivityResponse>, Status> {
        let principal = self.guard.principal(&request).await?;
        principal.fill_workspace(&mut request.get_mut().workspace);
        let message = request.get_ref();
        principal.authorize(
            "DataSourceService.TestConnectivity",
            Some(&message.workspace),
            Operation::RunJobs(Environment::from_request(&message.environment)),
        )?;
        self.inner.test_connectivity(request).await
    }

    async fn share_data_source(
        &self,
        mut request: Request<pb::ShareDataSourceRequest>,
    ) -> Result<Response<pb::DataSourceGrant>, Status> {
        self.guard
            .admit(
                &mut request,
                "DataSourceService.ShareDataSource",
                |message| &mut message.workspace,
                Operation::ShareDataSources,
            )
            .await?;
        self.inner.share_data_source(request).await
    }

    async fn unshare_data_source(
        &self,
        mut request: Request<pb::UnshareDataSourceRequest>,
    ) -> Result<Response<pb::UnshareDataSourceResponse>, Status> {
        self.guard
            .admit(
                &mut request,
                "DataSourceService.UnshareDataSource",
                |message| &mut message.workspace,
                Operation::ShareDataSources,
            )
            .await?;
        self.inner.unshare_data_source(request).await
    }

    async fn list_shares(
        &self,
        mut request: Request<pb::ListSharesRequest>,
    ) -> Result<Response<pb::ListSharesResponse>, Status> {
        self.guard
            .admit(
                &mut request,
                "DataSourceService.ListShares",
                |message| &mut message.workspace,
                Operation::Read,
            )
            .await?;
        self.inner.list_shares(request).await
    }

    /// An import may create configs of any environment: it needs the right to change prod
    /// data sources (admin).
    async fn import_data_sources(
        &self,
        mut request: Request<pb::ImportDataSourcesRequest>,
    ) -> Result<Response<pb::ImportDataSourcesResponse>, Status> {
        self.guard
            .admit(
                &mut request,
                "DataSourceService.ImportDataSources",
                |message| &mut message.workspace,
                Operation::WriteDataSource(Environment::Prod),
            )
            .await?;
        self.inner.import_data_sources(request).await
    }
}
