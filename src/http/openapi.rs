//! What every operation of the OpenAPI document shares: the bearer scheme and the error
//! answers the HTTP edge can give to any request.
use utoipa::openapi::path::ParameterIn;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::Modify;

/// The bearer token scheme every secured operation names.
pub struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

/// The answers every operation can give besides its own, so the document lists every status
/// the server sends: 400 for a malformed query or body, 413 and 415 for a body too large or
/// not JSON, 422 for a query or body that parses but breaks a rule, 429 for a signed-in
/// write over the per-user limit, 503 when the database or Redis does not answer in time.
pub struct CommonErrors;

impl Modify for CommonErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !path.starts_with("/api/") {
                continue;
            }
            let ops = [
                (&mut item.get, false),
                (&mut item.put, true),
                (&mut item.post, true),
                (&mut item.delete, true),
                (&mut item.patch, true),
            ];
            for (op, write) in ops.into_iter().filter_map(|(op, write)| op.as_mut().map(|op| (op, write))) {
                let has_body = op.request_body.is_some();
                let signed_in = op.security.as_ref().is_some_and(|s| !s.is_empty());
                let has_query = op.parameters.iter().flatten().any(|p| match p {
                    RefOr::T(p) => !matches!(p.parameter_in, ParameterIn::Path),
                    RefOr::Ref(_) => true,
                });
                let mut common = vec![("503", "数据库或 Redis 暂不可用 (database or Redis unavailable)")];
                if has_body || has_query {
                    common.push(("400", "请求格式错误 (malformed query, header or body)"));
                    common.push(("422", "validation_failed: `fields` names each bad field"));
                }
                if write && signed_in {
                    common.push(("429", "rate_limited: the per-user write limit (Retry-After says when)"));
                }
                if has_body {
                    common.push(("413", "请求体过大 (body too large)"));
                    common.push(("415", "请求体类型不支持 (wrong Content-Type)"));
                }
                for (status, description) in common {
                    op.responses.responses.entry(status.to_owned()).or_insert_with(|| {
                        ResponseBuilder::new()
                            .description(description)
                            .content(
                                "application/json",
                                ContentBuilder::new().schema(Some(Ref::from_schema_name("ErrorBody"))).build(),
                            )
                            .build()
                            .into()
                    });
                }
            }
        }
    }
}

/// OpenAPI requires a description on every response; utoipa leaves it empty when the
/// annotation gives none. Each gets the status's reason phrase ("OK", "Not Found"…).
pub struct DescribeResponses;

impl Modify for DescribeResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let ops = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete, &mut item.patch, &mut item.head];
            for op in ops.into_iter().flatten() {
                for (status, response) in op.responses.responses.iter_mut() {
                    if let RefOr::T(response) = response {
                        if response.description.is_empty() {
                            response.description = reason(status).to_owned();
                        }
                    }
                }
            }
        }
    }
}

fn reason(status: &str) -> &'static str {
    status
        .parse::<u16>()
        .ok()
        .and_then(|code| actix_web::http::StatusCode::from_u16(code).ok())
        .and_then(|code| code.canonical_reason())
        .unwrap_or("Response")
}
