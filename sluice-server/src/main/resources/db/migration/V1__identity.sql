-- Identity (issue 6, auth): tenants contain projects, users and API keys.
-- SQL accepted by PostgreSQL and by H2 in MODE=PostgreSQL. Later changes: V1_1__..., V1_2__...
-- API keys: only the public prefix and the SHA-256 of the secret are stored, never the secret.

create table tenants (
    id         varchar(64)  not null primary key,
    name       varchar(200) not null,
    created_at timestamp with time zone not null default current_timestamp
);

-- The operator's tenant: its admin credentials administer every tenant; requests served without
-- authentication (loopback-only, --no-auth) belong to it.
insert into tenants (id, name) values ('default', 'default (operator)');

create table projects (
    tenant_id  varchar(64)  not null references tenants (id) on delete cascade,
    id         varchar(64)  not null,
    name       varchar(200) not null,
    created_at timestamp with time zone not null default current_timestamp,
    primary key (tenant_id, id)
);

create table users (
    tenant_id  varchar(64)  not null references tenants (id) on delete cascade,
    id         varchar(64)  not null,
    name       varchar(200),
    email      varchar(320),
    created_at timestamp with time zone not null default current_timestamp,
    primary key (tenant_id, id)
);

create table api_keys (
    prefix        varchar(32)   not null primary key,  -- public lookup id, part of the key string
    secret_sha256 varchar(64)   not null,              -- lower-case hex SHA-256 of the secret part
    tenant_id     varchar(64)   not null references tenants (id) on delete cascade,
    project_id    varchar(64),
    user_id       varchar(64),
    name          varchar(200),
    models        varchar(8000),                       -- JSON array of allowed model names; null: every model
    tier          varchar(64)   not null default 'default',
    is_admin      boolean       not null default false,
    created_at    timestamp with time zone not null default current_timestamp,
    expires_at    timestamp with time zone,
    revoked_at    timestamp with time zone,
    foreign key (tenant_id, project_id) references projects (tenant_id, id) on delete cascade,
    foreign key (tenant_id, user_id) references users (tenant_id, id) on delete cascade
);

create index api_keys_tenant on api_keys (tenant_id);
