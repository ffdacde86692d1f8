//! `/api/v1/{collection}/{id}/comments` on every record type, and the caller's notification
//! feed (`/api/v1/notifications`) with its preferences.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use domain::comment::{Delivery, NotificationKind};
use persistence::comments::{Comment, Notification};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::error::{ApiError, CreateUnderErrors, DeleteErrors, ListErrors, ReadErrors, UpdateErrors};
use crate::extract::{Caller, IfMatch, NoParams, etag};
use crate::routes::common::Page;
use crate::state::AppState;
use crate::support::{id_page, id_page_limit};

/// A mention in a comment, resolved.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MentionView {
    /// `user` or `team`.
    #[schema(example = "user")]
    pub kind: String,
    pub id: String,
    /// As written: `@ada@example.com`, `@team:sales`.
    pub text: String,
}

/// A comment on a record.
#[derive(Debug, Serialize, ToSchema)]
pub struct CommentView {
    pub id: String,
    /// The record's type (`contact`, `deal`, ...).
    pub record_type: String,
    pub record_id: String,
    pub author_id: String,
    pub body: String,
    pub mentions: Vec<MentionView>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<Comment> for CommentView {
    type Error = ApiError;

    fn try_from(comment: Comment) -> Result<Self, ApiError> {
        let mentions = serde_json::from_str(&comment.mentions)
            .map_err(|e| ApiError::Internal(format!("comment {} has unreadable mentions: {e}", comment.id)))?;
        Ok(CommentView {
            id: comment.id,
            record_type: comment.record_type,
            record_id: comment.record_id,
            author_id: comment.author_id,
            body: comment.body,
            mentions,
            version: comment.version,
            created_at: comment.created_at,
            updated_at: comment.updated_at,
        })
    }
}

fn one(comment: Comment, status: StatusCode) -> Result<HttpResponse, ApiError> {
    let version = comment.version;
    Ok(HttpResponse::build(status).insert_header((header::ETAG, etag(version))).json(CommentView::try_from(comment)?))
}

/// A comment's text.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentInput {
    /// 1 to 10,000 characters. `@ada@example.com` mentions a user, `@team:sales` (or
    /// `@team:"West Coast"`) a team; each who may read the record is notified.
    #[schema(example = "@ada@example.com can you call them back? cc @team:sales")]
    pub body: String,
}

/// Paging of oldest-first and newest-first lists by id.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct IdPageParams {
    /// Page size, 1 to 100 (default 25).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Lists a record's comments.
#[utoipa::path(
    get, path = "/api/v1/{collection}/{id}/comments", tag = "comments", operation_id = "list_comments", summary = "List a record's comments",
    description = "Oldest first. Anyone who may read the record (404 otherwise).",
    params(("collection" = String, Path, description = "A record collection: contacts, companies, leads, deals, activities, tasks, products"), ("id" = String, Path, description = "Record id"), IdPageParams),
    responses((status = 200, description = "A page of comments", body = Page<CommentView>), ReadErrors),
    security(("bearer" = []))
)]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    params: web::Query<IdPageParams>,
) -> Result<HttpResponse, ApiError> {
    let (collection, id) = path.into_inner();
    let params = params.into_inner();
    let limit = id_page_limit(params.limit)?;
    let found = state
        .read(move |conn| {
            Ok(app::comments::list(conn, &caller, &collection, &id, params.cursor.as_deref(), limit + 1)?)
        })
        .await?;
    let (found, next_cursor) = id_page(found, limit, |comment| &comment.id);
    let data = found.into_iter().map(CommentView::try_from).collect::<Result<Vec<_>, _>>()?;
    Ok(HttpResponse::Ok().json(Page { data, next_cursor }))
}

/// Comments on a record.
#[utoipa::path(
    post, path = "/api/v1/{collection}/{id}/comments", tag = "comments", operation_id = "create_comment", summary = "Comment on a record",
    description = "Anyone who may read the record. A mention that names no active user or no team is 422 `unknown_mention`. The comment shows on the record's timeline.",
    params(("collection" = String, Path, description = "A record collection"), ("id" = String, Path, description = "Record id"), NoParams),
    request_body(content = CommentInput, example = json!({"body": "@ada@example.com can you call them back?"})),
    responses((status = 201, description = "Created", body = CommentView, headers(("ETag" = String, description = "Version"))), CreateUnderErrors),
    security(("bearer" = []))
)]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    _: web::Query<NoParams>,
    body: web::Json<CommentInput>,
) -> Result<HttpResponse, ApiError> {
    let (collection, id) = path.into_inner();
    let body = body.into_inner().body;
    let comment = state.write(move |conn| Ok(app::comments::post(conn, &caller, &collection, &id, &body)?)).await?;
    one(comment, StatusCode::CREATED)
}

/// Reads a comment.
#[utoipa::path(
    get, path = "/api/v1/{collection}/{id}/comments/{comment_id}", tag = "comments", operation_id = "get_comment", summary = "Get a comment",
    description = "Anyone who may read the record.",
    params(("collection" = String, Path, description = "A record collection"), ("id" = String, Path, description = "Record id"), ("comment_id" = String, Path, description = "Comment id"), NoParams),
    responses((status = 200, description = "The comment", body = CommentView, headers(("ETag" = String, description = "Version"))), ReadErrors),
    security(("bearer" = []))
)]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String, String)>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    let (collection, id, comment_id) = path.into_inner();
    let comment =
        state.read(move |conn| Ok(app::comments::find(conn, &caller, (&collection, &id, &comment_id))?)).await?;
    one(comment, StatusCode::OK)
}

/// Changes one's own comment.
#[utoipa::path(
    patch, path = "/api/v1/{collection}/{id}/comments/{comment_id}", tag = "comments", operation_id = "update_comment", summary = "Edit a comment",
    description = "Its author only (403 otherwise). Users and teams it newly mentions are notified.",
    params(("collection" = String, Path, description = "A record collection"), ("id" = String, Path, description = "Record id"), ("comment_id" = String, Path, description = "Comment id"), NoParams, ("If-Match" = Option<String>, Header, description = "ETag the change is based on")),
    request_body(content = CommentInput),
    responses((status = 200, description = "The comment", body = CommentView, headers(("ETag" = String, description = "New version"))), UpdateErrors),
    security(("bearer" = []))
)]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String, String)>,
    _: web::Query<NoParams>,
    if_match: IfMatch,
    body: web::Json<CommentInput>,
) -> Result<HttpResponse, ApiError> {
    let (collection, id, comment_id) = path.into_inner();
    let body = body.into_inner().body;
    let comment = state
        .write(move |conn| Ok(app::comments::edit(conn, &caller, (&collection, &id, &comment_id), if_match.0, &body)?))
        .await?;
    one(comment, StatusCode::OK)
}

/// Deletes a comment.
#[utoipa::path(
    delete, path = "/api/v1/{collection}/{id}/comments/{comment_id}", tag = "comments", operation_id = "delete_comment", summary = "Delete a comment",
    description = "Its author, or an admin.",
    params(("collection" = String, Path, description = "A record collection"), ("id" = String, Path, description = "Record id"), ("comment_id" = String, Path, description = "Comment id"), NoParams, ("If-Match" = Option<String>, Header, description = "ETag the deletion is based on")),
    responses((status = 204, description = "Deleted"), DeleteErrors),
    security(("bearer" = []))
)]
pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String, String)>,
    _: web::Query<NoParams>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let (collection, id, comment_id) = path.into_inner();
    state
        .write(move |conn| Ok(app::comments::delete(conn, &caller, (&collection, &id, &comment_id), if_match.0)?))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A notification.
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationView {
    pub id: String,
    pub kind: NotificationKind,
    /// The record it is about, if any.
    pub record_type: Option<String>,
    pub record_id: Option<String>,
    /// Who caused it.
    pub actor_id: Option<String>,
    /// The comment that mentioned the user.
    pub comment_id: Option<String>,
    /// How many changes it stands for: what one request (an import, a batch) assigned you is
    /// one notification; `record_id` is then the first record.
    pub count: i32,
    pub message: String,
    /// `null` while unread.
    pub read_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<Notification> for NotificationView {
    fn from(n: Notification) -> Self {
        NotificationView {
            id: n.id,
            kind: n.kind,
            record_type: n.record_type,
            record_id: n.record_id,
            actor_id: n.actor_id,
            comment_id: n.comment_id,
            count: n.count,
            message: n.message,
            read_at: n.read_at,
            created_at: n.created_at,
        }
    }
}

/// Which notifications to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct FeedParams {
    /// Only unread ones.
    pub unread: Option<bool>,
    /// Page size, 1 to 100 (default 25).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// The caller's notifications.
#[utoipa::path(
    get, path = "/api/v1/notifications", tag = "notifications", operation_id = "list_notifications", summary = "List my notifications",
    description = "Newest first: mentions, assignments (a record or task given to you by someone else), workflow notices and, for admins, webhook endpoints turned off. Only about records you may read.",
    params(FeedParams),
    responses((status = 200, description = "A page of notifications", body = Page<NotificationView>), ListErrors),
    security(("bearer" = []))
)]
pub async fn feed(
    state: web::Data<AppState>,
    caller: Caller,
    params: web::Query<FeedParams>,
) -> Result<HttpResponse, ApiError> {
    let params = params.into_inner();
    let limit = id_page_limit(params.limit)?;
    let unread = params.unread.unwrap_or(false);
    let found = state
        .read(move |conn| Ok(app::comments::feed(conn, &caller, unread, params.cursor.as_deref(), limit + 1)?))
        .await?;
    let (found, next_cursor) = id_page(found, limit, |n| &n.id);
    Ok(HttpResponse::Ok().json(Page { data: found.into_iter().map(NotificationView::from).collect(), next_cursor }))
}

/// How many notifications are unread.
#[derive(Debug, Serialize, ToSchema)]
pub struct UnreadCount {
    pub unread: i64,
}

/// Counts the caller's unread notifications.
#[utoipa::path(
    get, path = "/api/v1/notifications/unread-count", tag = "notifications", operation_id = "count_unread_notifications", summary = "Count my unread notifications",
    description = "What a badge shows.",
    params(NoParams),
    responses((status = 200, description = "The count", body = UnreadCount), ListErrors),
    security(("bearer" = []))
)]
pub async fn unread_count(
    state: web::Data<AppState>,
    caller: Caller,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    let unread =
        state.read(move |conn| Ok(persistence::comments::unread_count(conn, &caller.principal.user_id)?)).await?;
    Ok(HttpResponse::Ok().json(UnreadCount { unread }))
}

/// Marks one notification read.
#[utoipa::path(
    post, path = "/api/v1/notifications/{id}/read", tag = "notifications", operation_id = "read_notification", summary = "Mark a notification read",
    description = "Your own only (404 otherwise); reading a read one again changes nothing.",
    params(("id" = String, Path, description = "Notification id"), NoParams),
    responses((status = 204, description = "Read"), UpdateErrors),
    security(("bearer" = []))
)]
pub async fn read(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    state
        .write(move |conn| {
            persistence::comments::mark_read(conn, &caller.principal.user_id, &id, Utc::now()).map_err(|e| match e {
                persistence::StoreError::NotFound => ApiError::NotFound("no such notification".into()),
                other => other.into(),
            })
        })
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// How many were marked read.
#[derive(Debug, Serialize, ToSchema)]
pub struct MarkedRead {
    pub marked: usize,
}

/// Marks every notification read.
#[utoipa::path(
    post, path = "/api/v1/notifications/read-all", tag = "notifications", operation_id = "read_all_notifications", summary = "Mark all my notifications read",
    description = "Every unread notification of yours, at once.",
    params(NoParams),
    responses((status = 200, description = "How many were unread", body = MarkedRead), UpdateErrors),
    security(("bearer" = []))
)]
pub async fn read_all(
    state: web::Data<AppState>,
    caller: Caller,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    let marked = state
        .write(move |conn| Ok(persistence::comments::mark_all_read(conn, &caller.principal.user_id, Utc::now())?))
        .await?;
    Ok(HttpResponse::Ok().json(MarkedRead { marked }))
}

/// A user's preferences: per notification kind, in the feed and by email.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Preferences {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mention: Option<Delivery>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignment: Option<Delivery>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow: Option<Delivery>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_disabled: Option<Delivery>,
}

impl Preferences {
    fn slot(&mut self, kind: NotificationKind) -> &mut Option<Delivery> {
        match kind {
            NotificationKind::Mention => &mut self.mention,
            NotificationKind::Assignment => &mut self.assignment,
            NotificationKind::Workflow => &mut self.workflow,
            NotificationKind::WebhookDisabled => &mut self.webhook_disabled,
        }
    }
}

fn preferences_of(conn: &mut persistence::DbConnection, user_id: &str) -> Result<Preferences, ApiError> {
    let mut all = Preferences { mention: None, assignment: None, workflow: None, webhook_disabled: None };
    for kind in NotificationKind::ALL {
        *all.slot(kind) = Some(persistence::comments::preference(conn, user_id, kind)?);
    }
    Ok(all)
}

/// The caller's notification preferences.
#[utoipa::path(
    get, path = "/api/v1/notification-preferences", tag = "notifications", operation_id = "get_notification_preferences", summary = "Get my notification preferences",
    description = "Every kind, with the default (in the feed, not by email) where you set none.",
    params(NoParams),
    responses((status = 200, description = "The preferences", body = Preferences), ReadErrors),
    security(("bearer" = []))
)]
pub async fn preferences(
    state: web::Data<AppState>,
    caller: Caller,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    let all = state.read(move |conn| preferences_of(conn, &caller.principal.user_id)).await?;
    Ok(HttpResponse::Ok().json(all))
}

/// Changes the caller's notification preferences.
#[utoipa::path(
    patch, path = "/api/v1/notification-preferences", tag = "notifications", operation_id = "update_notification_preferences", summary = "Change my notification preferences",
    description = "The kinds given are set (both flags); the rest stay. `in_app: false` keeps that kind out of your feed; `email: true` sends it to your address as well (when the server has SMTP).",
    params(NoParams),
    request_body(content = Preferences, example = json!({"assignment": {"in_app": true, "email": true}})),
    responses((status = 200, description = "The preferences", body = Preferences), UpdateErrors),
    security(("bearer" = []))
)]
pub async fn update_preferences(
    state: web::Data<AppState>,
    caller: Caller,
    _: web::Query<NoParams>,
    body: web::Json<Preferences>,
) -> Result<HttpResponse, ApiError> {
    let mut changes = body.into_inner();
    let all = state
        .write(move |conn| {
            let user = caller.principal.user_id.clone();
            for kind in NotificationKind::ALL {
                if let Some(delivery) = changes.slot(kind).take() {
                    persistence::comments::set_preference(conn, &user, kind, delivery)?;
                }
            }
            preferences_of(conn, &user)
        })
        .await?;
    Ok(HttpResponse::Ok().json(all))
}

/// Mounts the notification routes (the comment routes go last: see [`comment_routes`]).
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/notifications").route(web::get().to(feed)))
        .service(web::resource("/notifications/unread-count").route(web::get().to(unread_count)))
        .service(web::resource("/notifications/read-all").route(web::post().to(read_all)))
        .service(web::resource("/notifications/{id}/read").route(web::post().to(read)))
        .service(
            web::resource("/notification-preferences")
                .route(web::get().to(preferences))
                .route(web::patch().to(update_preferences)),
        );
}

/// Mounts the comment routes of every collection, after every other resource: they match any
/// first segment.
pub fn comment_routes(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/{collection}/{id}/comments").route(web::get().to(list)).route(web::post().to(create)))
        .service(
            web::resource("/{collection}/{id}/comments/{comment_id}")
                .route(web::get().to(get))
                .route(web::patch().to(update))
                .route(web::delete().to(delete)),
        );
}
