//! Users, the org tree, roles, invites, refresh tokens and the audit log.
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden, Clone, Copy)]
enum Orgs {
    Table,
    Id,
    ParentId,
    Name,
    Kind,
    Path,
    Depth,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Users {
    Table,
    Id,
    DisplayName,
    Phone,
    Openid,
    Username,
    PasswordHash,
    HomeBranchId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum UserRoles {
    Table,
    Id,
    UserId,
    OrgId,
    Role,
    GrantedBy,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum Invites {
    Table,
    Id,
    OrgId,
    Code,
    Role,
    MaxUses,
    Uses,
    ExpiresAt,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum RefreshTokens {
    Table,
    Id,
    UserId,
    FamilyId,
    TokenHash,
    ExpiresAt,
    UsedAt,
    RevokedAt,
    CreatedAt,
}

#[derive(DeriveIden, Clone, Copy)]
enum AuditLog {
    Table,
    Id,
    ActorId,
    Action,
    TargetType,
    TargetId,
    OrgId,
    Before,
    After,
    Reason,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table(Orgs::Table)
                .col(big_pk_auto(Orgs::Id))
                .col(big_integer_null(Orgs::ParentId))
                .col(string_len(Orgs::Name, 100))
                .col(string_len(Orgs::Kind, 16))
                .col(string_len(Orgs::Path, 255))
                .col(integer(Orgs::Depth))
                .col(timestamp_with_time_zone(Orgs::CreatedAt))
                .foreign_key(ForeignKey::create().from(Orgs::Table, Orgs::ParentId).to(Orgs::Table, Orgs::Id))
                .to_owned(),
        )
        .await?;
        index(m, "idx_orgs_path", Orgs::Table, &[Orgs::Path], false).await?;
        index(m, "idx_orgs_parent", Orgs::Table, &[Orgs::ParentId], false).await?;

        m.create_table(
            Table::create()
                .table(Users::Table)
                .col(big_pk_auto(Users::Id))
                .col(string_len(Users::DisplayName, 64))
                .col(string_len_null(Users::Phone, 20))
                .col(string_len_null(Users::Openid, 64).unique_key())
                .col(string_len_null(Users::Username, 64).unique_key())
                .col(string_len_null(Users::PasswordHash, 255))
                .col(big_integer_null(Users::HomeBranchId))
                .col(timestamp_with_time_zone(Users::CreatedAt))
                .col(timestamp_with_time_zone(Users::UpdatedAt))
                .foreign_key(ForeignKey::create().from(Users::Table, Users::HomeBranchId).to(Orgs::Table, Orgs::Id))
                .to_owned(),
        )
        .await?;
        index(m, "idx_users_home_branch", Users::Table, &[Users::HomeBranchId], false).await?;

        m.create_table(
            Table::create()
                .table(UserRoles::Table)
                .col(big_pk_auto(UserRoles::Id))
                .col(big_integer(UserRoles::UserId))
                .col(big_integer_null(UserRoles::OrgId))
                .col(string_len(UserRoles::Role, 32))
                .col(big_integer_null(UserRoles::GrantedBy))
                .col(timestamp_with_time_zone(UserRoles::CreatedAt))
                .foreign_key(ForeignKey::create().from(UserRoles::Table, UserRoles::UserId).to(Users::Table, Users::Id))
                .foreign_key(ForeignKey::create().from(UserRoles::Table, UserRoles::OrgId).to(Orgs::Table, Orgs::Id))
                .to_owned(),
        )
        .await?;
        index(m, "uq_user_roles", UserRoles::Table, &[UserRoles::UserId, UserRoles::OrgId, UserRoles::Role], true)
            .await?;
        index(m, "idx_user_roles_org", UserRoles::Table, &[UserRoles::OrgId], false).await?;

        m.create_table(
            Table::create()
                .table(Invites::Table)
                .col(big_pk_auto(Invites::Id))
                .col(big_integer(Invites::OrgId))
                .col(string_len(Invites::Code, 32).unique_key())
                .col(string_len(Invites::Role, 32))
                .col(integer(Invites::MaxUses))
                .col(integer(Invites::Uses))
                .col(timestamp_with_time_zone(Invites::ExpiresAt))
                .col(big_integer(Invites::CreatedBy))
                .col(timestamp_with_time_zone(Invites::CreatedAt))
                .foreign_key(ForeignKey::create().from(Invites::Table, Invites::OrgId).to(Orgs::Table, Orgs::Id))
                .to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table(RefreshTokens::Table)
                .col(big_pk_auto(RefreshTokens::Id))
                .col(big_integer(RefreshTokens::UserId))
                .col(string_len(RefreshTokens::FamilyId, 64))
                .col(string_len(RefreshTokens::TokenHash, 64).unique_key())
                .col(timestamp_with_time_zone(RefreshTokens::ExpiresAt))
                .col(timestamp_with_time_zone_null(RefreshTokens::UsedAt))
                .col(timestamp_with_time_zone_null(RefreshTokens::RevokedAt))
                .col(timestamp_with_time_zone(RefreshTokens::CreatedAt))
                .foreign_key(
                    ForeignKey::create().from(RefreshTokens::Table, RefreshTokens::UserId).to(Users::Table, Users::Id),
                )
                .to_owned(),
        )
        .await?;
        index(m, "idx_refresh_tokens_family", RefreshTokens::Table, &[RefreshTokens::FamilyId], false).await?;

        m.create_table(
            Table::create()
                .table(AuditLog::Table)
                .col(big_pk_auto(AuditLog::Id))
                .col(big_integer_null(AuditLog::ActorId))
                .col(string_len(AuditLog::Action, 64))
                .col(string_len(AuditLog::TargetType, 32))
                .col(string_len(AuditLog::TargetId, 64))
                .col(big_integer_null(AuditLog::OrgId))
                .col(json_null(AuditLog::Before))
                .col(json_null(AuditLog::After))
                .col(text_null(AuditLog::Reason))
                .col(timestamp_with_time_zone(AuditLog::CreatedAt))
                .to_owned(),
        )
        .await?;
        index(m, "idx_audit_org", AuditLog::Table, &[AuditLog::OrgId], false).await?;
        index(m, "idx_audit_target", AuditLog::Table, &[AuditLog::TargetType, AuditLog::TargetId], false).await?;
        Ok(())
    }
}

async fn index<T, C>(m: &SchemaManager<'_>, name: &str, table: T, cols: &[C], unique: bool) -> Result<(), DbErr>
where
    T: IntoIden + Clone + 'static,
    C: IntoIden + Clone + 'static,
{
    let mut stmt = Index::create();
    stmt.name(name).table(table.clone());
    for c in cols {
        stmt.col(c.clone());
    }
    if unique {
        stmt.unique();
    }
    m.create_index(stmt.to_owned()).await
}
