//! `/api/v1/surveys` (admins; results for managers too), sending a survey, and the public
//! answer link `/api/v1/survey-responses/{token}`: the steps are `app::surveys`'s.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use domain::survey::{Figures, Survey, SurveyKind, TouchpointType};
use persistence::definitions::Definition;
use persistence::surveys::SurveyRequest;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use app::surveys::{Delivery, GroupBy};

use crate::definitions::DefinitionApi;
use crate::error::{
    ApiError, CreateErrors, CreateUnderErrors, DeleteErrors, ListErrors, Problem, PublicErrors, ReadErrors,
    UpdateErrors,
};
use crate::extract::{Caller, IdempotencyKey, IfMatch, NoParams, Origin, etag};
use crate::routes::common::Page;
use crate::state::AppState;
use crate::support::Created;

/// A stored survey.
#[derive(Debug, Serialize, ToSchema)]
pub struct SurveyView {
    pub id: String,
    /// The survey as written (a PATCH is a merge-patch of it).
    pub survey: Survey,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Definition<Survey>> for SurveyView {
    fn from(definition: Definition<Survey>) -> Self {
        SurveyView {
            id: definition.id,
            survey: definition.body,
            created_at: definition.created_at,
            updated_at: definition.updated_at,
        }
    }
}

static SURVEYS: DefinitionApi<Survey> = DefinitionApi { steps: &app::surveys::SURVEYS, collection: "/api/v1/surveys" };

#[utoipa::path(
    get, path = "/api/v1/surveys", tag = "surveys", operation_id = "list_surveys", summary = "List surveys",
    description = "Admins only.",
    params(NoParams),
    responses((status = 200, description = "The surveys", body = Page<SurveyView>), ListErrors),
    security(("bearer" = []))
)]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    let all = SURVEYS.list(&state, caller).await?;
    Ok(HttpResponse::Ok()
        .json(Page { data: all.into_iter().map(SurveyView::from).collect::<Vec<_>>(), next_cursor: None }))
}

#[utoipa::path(
    post, path = "/api/v1/surveys", tag = "surveys", operation_id = "create_survey", summary = "Create a survey",
    description = "Admins only. `kind` fixes the scale: `nps` 0–10 (detractors 0–6, passives 7–8, promoters 9–10), `ces` 1–7, `csat` 1–5.",
    params(NoParams, ("Idempotency-Key" = Option<String>, Header, description = "Makes the request safe to retry (1 to 255 characters)")),
    request_body(content = Survey, example = json!({"name": "Support satisfaction", "kind": "csat", "question": "How satisfied are you with the help you got?", "follow_up": "What could we do better?"})),
    responses((status = 201, description = "Created", body = SurveyView, headers(("Location" = String, description = "URL of the new survey"), ("ETag" = String, description = "Version"))), CreateErrors),
    security(("bearer" = []))
)]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    _: web::Query<NoParams>,
    key: IdempotencyKey,
    body: web::Json<Survey>,
) -> Result<HttpResponse, ApiError> {
    SURVEYS
        .create(&state, &caller, key, body.into_inner(), None, |definition| {
            let (location, version) = (format!("/api/v1/surveys/{}", definition.id), definition.version);
            Created::new(&SurveyView::from(definition), location, version)
        })
        .await
}

#[utoipa::path(
    get, path = "/api/v1/surveys/{id}", tag = "surveys", operation_id = "get_survey", summary = "Get a survey",
    description = "Admins only.",
    params(("id" = String, Path, description = "Survey id"), NoParams),
    responses((status = 200, description = "The survey", body = SurveyView, headers(("ETag" = String, description = "Version"))), ReadErrors),
    security(("bearer" = []))
)]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
) -> Result<HttpResponse, ApiError> {
    let found = SURVEYS.get(&state, caller, id.into_inner()).await?;
    Ok(HttpResponse::Ok().insert_header((header::ETAG, etag(found.version))).json(SurveyView::from(found)))
}

#[utoipa::path(
    patch, path = "/api/v1/surveys/{id}", tag = "surveys", operation_id = "update_survey", summary = "Update a survey (merge-patch)",
    description = "Admins only.",
    params(("id" = String, Path, description = "Survey id"), NoParams, ("If-Match" = Option<String>, Header, description = "ETag the change is based on")),
    request_body(content = HashMap<String, Value>, content_type = "application/merge-patch+json", example = json!({"active": false})),
    responses((status = 200, description = "The survey", body = SurveyView, headers(("ETag" = String, description = "New version"))), UpdateErrors),
    security(("bearer" = []))
)]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
    if_match: IfMatch,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let changed = SURVEYS.update(&state, caller, id.into_inner(), if_match, body.into_inner()).await?;
    Ok(HttpResponse::Ok().insert_header((header::ETAG, etag(changed.version))).json(SurveyView::from(changed)))
}

#[utoipa::path(
    delete, path = "/api/v1/surveys/{id}", tag = "surveys", operation_id = "delete_survey", summary = "Delete a survey",
    description = "Admins only. Its sent links stop working.",
    params(("id" = String, Path, description = "Survey id"), NoParams, ("If-Match" = Option<String>, Header, description = "ETag the deletion is based on")),
    responses((status = 204, description = "Deleted"), DeleteErrors),
    security(("bearer" = []))
)]
pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    SURVEYS.delete(&state, caller, id.into_inner(), if_match).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// What a survey request is about.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Touchpoint {
    #[serde(rename = "type")]
    pub touchpoint_type: TouchpointType,
    /// The ticket or deal; none for `none`.
    #[serde(default)]
    pub id: Option<String>,
}

/// How a request reaches the contact.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryInput {
    /// An email with the link, through the SMTP server.
    Email,
    /// Only the link, in the answer, for you to pass on.
    Link,
}

/// A survey to send.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SurveySendInput {
    pub contact_id: String,
    /// Default: none.
    #[serde(default)]
    pub touchpoint: Option<Touchpoint>,
    /// Default: email.
    #[serde(default)]
    pub deliver: Option<DeliveryInput>,
}

/// A sent survey request.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequestView {
    pub id: String,
    pub survey_id: String,
    pub contact_id: Option<String>,
    pub company_id: Option<String>,
    pub touchpoint: Touchpoint,
    /// The email that carries it, when sent by email (`GET /api/v1/emails/{id}`).
    pub email_id: Option<String>,
    /// The single-use answer link, shown this once; it reveals nothing but the question.
    pub url: String,
    pub created_at: DateTime<Utc>,
}

fn touchpoint_of(request: &SurveyRequest) -> Touchpoint {
    let touchpoint_type = match request.touchpoint_type.as_str() {
        "ticket" => TouchpointType::Ticket,
        "deal" => TouchpointType::Deal,
        _ => TouchpointType::None,
    };
    Touchpoint { touchpoint_type, id: request.touchpoint_id.clone() }
}

#[utoipa::path(
    post, path = "/api/v1/surveys/{id}/requests", tag = "surveys", operation_id = "send_survey", summary = "Send a survey",
    description = "Asks a contact you can see, about a ticket or deal you can see (or nothing). By email (default) the message with the answer link goes through the SMTP server and is logged on the contact's timeline; `deliver: link` only returns the link. Either way the answer `url` is in the answer this once. Needs the grant to log activities. An inactive survey, or email without an SMTP server, is 409.",
    params(("id" = String, Path, description = "Survey id"), NoParams),
    request_body(content = SurveySendInput, example = json!({"contact_id": "0193a5b2-7c1e-7d2a-9f10-3b5c8e2d4a61", "touchpoint": {"type": "ticket", "id": "0193a5b2-7c1e-7d2a-9f10-3b5c8e2d4a62"}})),
    responses(
        (status = 201, description = "Sent", body = RequestView),
        CreateUnderErrors,
    ),
    security(("bearer" = []))
)]
pub async fn send(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    _: web::Query<NoParams>,
    body: web::Json<SurveySendInput>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let touchpoint = body.touchpoint.unwrap_or(Touchpoint { touchpoint_type: TouchpointType::None, id: None });
    let request = app::surveys::SendRequest {
        contact_id: body.contact_id,
        touchpoint: touchpoint.touchpoint_type,
        touchpoint_id: touchpoint.id.map(|id| id.trim().to_owned()),
        delivery: match body.deliver {
            Some(DeliveryInput::Link) => Delivery::Link,
            Some(DeliveryInput::Email) | None => Delivery::Email,
        },
    };
    let (mail, survey_id) = (state.config.mail.clone(), id.into_inner());
    let public_url = mail.as_ref().map(|m| m.public_url.clone()).unwrap_or_default();
    let sent =
        state.write(move |conn| Ok(app::surveys::send(conn, &caller, &survey_id, &request, mail.as_ref())?)).await?;
    let request = sent.request;
    Ok(HttpResponse::Created().json(RequestView {
        touchpoint: touchpoint_of(&request),
        url: format!("{}{}", public_url.trim_end_matches('/'), app::surveys::answer_path(&sent.token)),
        id: request.id,
        survey_id: request.survey_id,
        contact_id: request.contact_id,
        company_id: request.company_id,
        email_id: request.email_id,
        created_at: request.created_at,
    }))
}

/// The period and grouping of results.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ResultsParams {
    /// Requests sent at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Requests sent before this time.
    pub to: Option<DateTime<Utc>>,
    /// `touchpoint_type`, `team`, `owner` or `month` (UTC, of sending).
    #[param(inline)]
    pub group_by: Option<GroupByParam>,
}

/// How results are grouped.
#[derive(Debug, Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupByParam {
    TouchpointType,
    Team,
    Owner,
    Month,
}

/// One group of results.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResultGroup {
    /// The touchpoint type, team id, owner id or month; `null` for requests with no team or owner.
    pub key: Option<String>,
    #[serde(flatten)]
    pub figures: Figures,
}

/// A survey's results.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResultsView {
    pub survey_id: String,
    pub kind: SurveyKind,
    /// Requests sent in the period, their answers, and the survey's figures over all of them.
    pub total: Figures,
    /// The same per group, when `group_by` is given.
    pub groups: Vec<ResultGroup>,
}

#[utoipa::path(
    get, path = "/api/v1/surveys/{id}/results", tag = "surveys", operation_id = "survey_results", summary = "A survey's results",
    description = "Over the requests sent in the period: requests, responses, response rate, and per kind NPS (% promoters − % detractors, with each band's count), CES (mean and share of 5–7) or CSAT (share of 4–5), overall and per group. For admins and managers.",
    params(("id" = String, Path, description = "Survey id"), ResultsParams),
    responses((status = 200, description = "The results", body = ResultsView), ReadErrors),
    security(("bearer" = []))
)]
pub async fn results(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<String>,
    params: web::Query<ResultsParams>,
) -> Result<HttpResponse, ApiError> {
    let params = params.into_inner();
    if let (Some(from), Some(to)) = (params.from, params.to)
        && to <= from
    {
        return Err(ApiError::bad_field("to", "invalid_range", "must be after `from`"));
    }
    let group_by = params.group_by.map(|g| match g {
        GroupByParam::TouchpointType => GroupBy::TouchpointType,
        GroupByParam::Team => GroupBy::Team,
        GroupByParam::Owner => GroupBy::Owner,
        GroupByParam::Month => GroupBy::Month,
    });
    let id = id.into_inner();
    let found = state
        .read(move |conn| Ok(app::surveys::results(conn, &caller, &id, (params.from, params.to), group_by)?))
        .await?;
    Ok(HttpResponse::Ok().json(ResultsView {
        survey_id: found.survey_id,
        kind: found.kind,
        total: found.total,
        groups: found.groups.into_iter().map(|(key, figures)| ResultGroup { key, figures }).collect(),
    }))
}

/// What an answer link asks.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuestionView {
    pub kind: SurveyKind,
    pub question: String,
    pub follow_up: Option<String>,
    /// The lowest score.
    pub min: u8,
    /// The highest score.
    pub max: u8,
    /// A link answers once.
    pub answered: bool,
}

#[utoipa::path(
    get, path = "/api/v1/survey-responses/{token}", tag = "surveys", operation_id = "survey_question", summary = "The question an answer link asks",
    description = "Public: no login. The survey's question and scale, and whether the link was used; nothing about the contact or the touchpoint.",
    params(("token" = String, Path, description = "The link's token")),
    responses(
        (status = 200, description = "The question", body = QuestionView),
        (status = 404, description = "No such link", body = Problem, content_type = "application/problem+json"),
        PublicErrors,
    )
)]
pub async fn question(state: web::Data<AppState>, token: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let token = token.into_inner();
    let asked = state.read(move |conn| Ok(app::surveys::question(conn, &token)?)).await?;
    let (min, max) = asked.kind.scale();
    Ok(HttpResponse::Ok().json(QuestionView {
        kind: asked.kind,
        question: asked.question,
        follow_up: asked.follow_up,
        min,
        max,
        answered: asked.answered,
    }))
}

/// An answer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnswerInput {
    /// On the survey's scale (see `min` and `max` of the question).
    pub score: i64,
    /// The answer to the follow-up question.
    #[serde(default)]
    #[schema(max_length = 5000)]
    pub comment: Option<String>,
}

/// An answer received.
#[derive(Debug, Serialize, ToSchema)]
pub struct AnswerReceipt {
    /// Always `received`.
    pub status: String,
}

#[utoipa::path(
    post, path = "/api/v1/survey-responses/{token}", tag = "surveys", operation_id = "answer_survey", summary = "Answer a survey",
    description = "Public: no login. Once per link: a second answer is 409. The answer is logged on the contact's timeline (and the ticket's or deal's) and announced as `survey.answered`. Rate-limited per client address like web forms.",
    params(("token" = String, Path, description = "The link's token")),
    request_body(content = AnswerInput, example = json!({"score": 5, "comment": "Quick and friendly"})),
    responses(
        (status = 201, description = "Received", body = AnswerReceipt),
        (status = 400, description = "Malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such link", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The link was answered already", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The score is off the scale, or the comment too long", body = Problem, content_type = "application/problem+json"),
        PublicErrors,
    )
)]
pub async fn answer(
    state: web::Data<AppState>,
    Origin(context): Origin,
    token: web::Path<String>,
    body: web::Json<AnswerInput>,
) -> Result<HttpResponse, ApiError> {
    let (token, body) = (token.into_inner(), body.into_inner());
    state.write(move |conn| Ok(app::surveys::answer(conn, &context, &token, body.score, body.comment)?)).await?;
    Ok(HttpResponse::Created().json(AnswerReceipt { status: "received".into() }))
}

/// Registers the survey routes.
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .service(web::resource("/surveys").route(web::get().to(list)).route(web::post().to(create)))
        .service(
            web::resource("/surveys/{id}")
                .route(web::get().to(get))
                .route(web::patch().to(update))
                .route(web::delete().to(delete)),
        )
        .service(web::resource("/surveys/{id}/requests").route(web::post().to(send)))
        .service(web::resource("/surveys/{id}/results").route(web::get().to(results)))
        .service(
            web::resource("/survey-responses/{token}").route(web::get().to(question)).route(web::post().to(answer)),
        );
}
