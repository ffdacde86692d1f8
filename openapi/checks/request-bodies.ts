// Request bodies an integrator writes with the types openapi-typescript generates from
// openapi/openapi.json, without a cast: CI compiles this file with `tsc --strict`.
import type { components } from "./api";

type Schemas = components["schemas"];

export const byText: Schemas["SearchInput"] = { filter: { field: "last_name", op: "eq", value: "Lovelace" } };
export const byNumber: Schemas["SearchInput"] = { filter: { field: "custom_fields.budget", op: "gte", value: 1000 } };
export const byList: Schemas["SearchInput"] = {
  filter: { and: [{ field: "tags", op: "in", value: ["vip", "partner"] }, { field: "email", op: "is_empty" }] },
  sort: "-updated_at",
  limit: 25,
};
export const exportBody: Schemas["ExportInput"] = { filter: { field: "activity.call", op: "last_n_days", value: 30 } };
export const contact: Schemas["ContactInput"] = {
  first_name: "Ada",
  custom_fields: { budget: 5000, tier: "Gold", newsletter: true, regions: ["EU", "UK"] },
};
export const field: Schemas["CustomFieldInput"] = {
  record_type: "contact",
  key: "tier",
  label: "Tier",
  field_type: "dropdown",
  options: ["Gold", "Silver"],
  default: "Silver",
};
export const role: Schemas["RoleInput"] = {
  name: "Curator",
  grants: { contacts: { read: "all", edit: "own" }, companies: { read: "team" } },
};
export const event: Schemas["LeadEventInput"] = { type: "email_clicked", properties: { campaign: "November", clicks: 2 } };
export const batch: Schemas["ContactBatch"] = {
  operations: [
    { op: "create", body: { first_name: "Grace", custom_fields: { budget: 10 } }, allow_duplicate: true },
    { op: "update", id: "0193a5b2-7c1e-7d2a-9f10-3b5c8e2d4a61", if_match: '"3"', body: { job_title: "Admiral" } },
    { op: "delete", id: "0193a5b2-7c1e-7d2a-9f10-3b5c8e2d4a61" },
  ],
};
export const onboarding: Schemas["Workflow"] = {
  name: "Onboard won customers",
  record_type: "deal",
  status: "active",
  trigger: { type: "stage_changed", to: "0193a5b2-7c1e-7d2a-9f10-3b5c8e2d4a61" },
  conditions: { and: [{ field: "amount", op: "gte", value: 100000 }, { field: "tags", op: "contains", value: "vip" }] },
  steps: [
    { type: "create_task", title: "Onboarding call", due_in_days: 2 },
    {
      type: "branch",
      condition: { field: "company.name", op: "is_not_empty" },
      then: [{ type: "add_tag", tag: "b2b" }],
      else: [{ type: "wait", minutes: 60 }],
    },
    { type: "notify", message: "Won", owner_managers: true },
  ],
};
export const ticket: Schemas["TicketInput"] = {
  subject: "Cannot export invoices",
  requester_id: "0193a5b2-7c1e-7d2a-9f10-3b5c8e2d4a61",
  channel: "email",
  type: "incident",
  priority: "high",
  custom_fields: { region: "EMEA" },
};
export const reply: Schemas["ReplyInput"] = { body: "Fixed; please try again.", status: "pending" };
export const calendar: Schemas["BusinessCalendar"] = {
  name: "Berlin desk",
  time_zone: "Europe/Berlin",
  hours: { monday: [{ from: "09:00", to: "12:00" }, { from: "13:00", to: "17:00" }], saturday: [{ from: "22:00", to: "06:00" }] },
  holidays: ["2026-12-25"],
  exceptions: [{ date: "2026-12-31", hours: [{ from: "09:00", to: "12:00" }] }],
};
export const policy: Schemas["SlaPolicy"] = {
  name: "Standard",
  conditions: { field: "channel", op: "in", value: ["email", "web_form"] },
  calendar_id: "0193a5b2-7c1e-7d2a-9f10-3b5c8e2d4a61",
  targets: { urgent: { first_reply: { minutes: 30 }, resolution: { minutes: 240, business: false } } },
};
export const escalation: Schemas["Workflow"] = {
  name: "Escalate breaches",
  record_type: "ticket",
  status: "active",
  trigger: { type: "sla_breached", metric: "first_reply" },
  steps: [{ type: "update_fields", fields: { tier: "second_line" } }],
};
export const survey: Schemas["Survey"] = { name: "Support satisfaction", kind: "csat", question: "How satisfied are you?" };
export const sendSurvey: Schemas["SurveySendInput"] = {
  contact_id: "0193a5b2-7c1e-7d2a-9f10-3b5c8e2d4a61",
  touchpoint: { type: "ticket", id: "0193a5b2-7c1e-7d2a-9f10-3b5c8e2d4a62" },
  deliver: "link",
};
export const answer: Schemas["AnswerInput"] = { score: 5, comment: "Quick and friendly" };
export const knowledge: Schemas["ArticleInput"] = {
  title: "Reset your password",
  body: "1. Open **Settings**\n2. Choose *Reset password*",
  locale: "de-CH",
  status: "published",
  related_ids: ["0193a5b2-7c1e-7d2a-9f10-3b5c8e2d4a61"],
};
export const replyWithArticle: Schemas["ReplyInput"] = { body: "See below", article_ids: ["0193a5b2-7c1e-7d2a-9f10-3b5c8e2d4a61"] };
