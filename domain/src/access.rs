//! Who may do what: modules, actions, scopes, roles and the rules that combine them.
//!
//! A grant maps (module, action) to a scope. Reads are turned into a [`Visibility`] that the
//! storage layer compiles into SQL, so lists, search and single reads share one rule.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A functional area whose records share one set of grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Module {
    Contacts,
    Companies,
    Leads,
    Deals,
    Activities,
    Tasks,
    Products,
    Tickets,
    /// Knowledge-base articles.
    Articles,
    Campaigns,
    Reports,
    /// Users, teams, roles, other people's API keys: the administrator's area.
    Settings,
}

impl Module {
    /// Every module, in documentation order.
    pub const ALL: [Module; 12] = [
        Module::Contacts,
        Module::Companies,
        Module::Leads,
        Module::Deals,
        Module::Activities,
        Module::Tasks,
        Module::Products,
        Module::Tickets,
        Module::Articles,
        Module::Campaigns,
        Module::Reports,
        Module::Settings,
    ];
}

/// Something a principal does to records of a module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Read,
    Create,
    Edit,
    Delete,
    Export,
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 5] = [Action::Read, Action::Create, Action::Edit, Action::Delete, Action::Export];
}

/// Which records an action reaches; ordered from nothing to everything.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    #[default]
    None,
    /// Records the principal owns.
    Own,
    /// Records owned by anyone sharing a team with the principal, or assigned to one of its teams.
    Team,
    All,
}

/// The scopes a role grants, module by module; anything absent is [`Scope::None`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grants(BTreeMap<Module, BTreeMap<Action, Scope>>);

impl Grants {
    /// The scope for one module and action.
    pub fn scope(&self, module: Module, action: Action) -> Scope {
        self.0.get(&module).and_then(|actions| actions.get(&action)).copied().unwrap_or_default()
    }

    /// Sets one entry; a `None` scope is not stored so equal grants compare equal.
    pub fn set(&mut self, module: Module, action: Action, scope: Scope) {
        if scope == Scope::None {
            if let Some(actions) = self.0.get_mut(&module) {
                actions.remove(&action);
                if actions.is_empty() {
                    self.0.remove(&module);
                }
            }
        } else {
            self.0.entry(module).or_default().insert(action, scope);
        }
    }

    /// Builds grants from (module, action, scope) triples.
    pub fn from_entries(entries: impl IntoIterator<Item = (Module, Action, Scope)>) -> Self {
        let mut grants = Self::default();
        for (module, action, scope) in entries {
            grants.set(module, action, scope);
        }
        grants
    }

    /// Every non-empty entry.
    pub fn entries(&self) -> impl Iterator<Item = (Module, Action, Scope)> + '_ {
        self.0.iter().flat_map(|(module, actions)| actions.iter().map(|(action, scope)| (*module, *action, *scope)))
    }

    /// The narrower of two grant sets, entry by entry: an API key limited by a role never
    /// exceeds its owner.
    pub fn intersect(&self, other: &Grants) -> Grants {
        Grants::from_entries(
            self.entries().map(|(module, action, scope)| (module, action, scope.min(other.scope(module, action)))),
        )
    }
}

/// The built-in roles every installation has; they cannot be edited or deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuiltInRole {
    Admin,
    Manager,
    Sales,
    Marketing,
    Support,
    ReadOnly,
}

impl BuiltInRole {
    /// All built-in roles.
    pub const ALL: [BuiltInRole; 6] = [
        BuiltInRole::Admin,
        BuiltInRole::Manager,
        BuiltInRole::Sales,
        BuiltInRole::Marketing,
        BuiltInRole::Support,
        BuiltInRole::ReadOnly,
    ];

    /// The role's stable key, also its id.
    pub fn key(self) -> &'static str {
        match self {
            BuiltInRole::Admin => "admin",
            BuiltInRole::Manager => "manager",
            BuiltInRole::Sales => "sales",
            BuiltInRole::Marketing => "marketing",
            BuiltInRole::Support => "support",
            BuiltInRole::ReadOnly => "read_only",
        }
    }

    /// What the role is for, shown to admins.
    pub fn description(self) -> &'static str {
        match self {
            BuiltInRole::Admin => "Everything, including users, teams, roles and settings.",
            BuiltInRole::Manager => "Reads and exports all customer data; edits and deletes their teams' records.",
            BuiltInRole::Sales => "Works their own leads, deals and customers; sees their teams' records.",
            BuiltInRole::Marketing => "Reads all customer data, runs campaigns, exports lists.",
            BuiltInRole::Support => "Works tickets; reads all customers and edits their own.",
            BuiltInRole::ReadOnly => "Reads all customer data and changes nothing.",
        }
    }

    /// The scopes the role grants.
    pub fn grants(self) -> Grants {
        use Module::*;
        use Scope::{All as A, None as N, Own as O, Team as T};
        // (read, create, edit, delete, export) per module.
        let table = |module: Module| -> [Scope; 5] {
            match (self, module) {
                (BuiltInRole::Admin, _) => [A, A, A, A, A],
                (BuiltInRole::Manager, Settings) => [N, N, N, N, N],
                (BuiltInRole::Manager, Reports) => [A, N, N, N, A],
                (BuiltInRole::Manager, Products) => [A, A, A, A, A],
                (_, Products) => [A, N, N, N, N],
                (BuiltInRole::Manager, _) => [A, A, T, T, A],
                (BuiltInRole::Sales, Contacts | Companies | Leads | Deals | Activities | Tasks) => [T, O, O, O, N],
                (BuiltInRole::Sales, Tickets | Campaigns | Reports) => [T, N, N, N, N],
                (BuiltInRole::Sales | BuiltInRole::Marketing, Articles) => [A, N, N, N, N],
                (BuiltInRole::Marketing, Campaigns) => [A, A, A, A, A],
                (BuiltInRole::Marketing, Contacts | Companies | Leads) => [A, O, O, N, A],
                (BuiltInRole::Marketing, Reports) => [A, N, N, N, A],
                (BuiltInRole::Marketing, Deals | Activities | Tasks | Tickets) => [A, N, N, N, N],
                (BuiltInRole::Support, Tickets | Activities | Tasks) => [T, O, T, O, N],
                (BuiltInRole::Support, Articles) => [A, O, O, O, A],
                (BuiltInRole::Support, Contacts | Companies) => [A, O, O, N, N],
                (BuiltInRole::Support, Leads | Deals | Campaigns | Reports) => [N, N, N, N, N],
                (BuiltInRole::ReadOnly, Settings) => [N, N, N, N, N],
                (BuiltInRole::ReadOnly, _) => [A, N, N, N, N],
                (_, Settings) => [N, N, N, N, N],
            }
        };
        Grants::from_entries(
            Module::ALL
                .into_iter()
                .flat_map(|module| Action::ALL.into_iter().zip(table(module)).map(move |(a, s)| (module, a, s))),
        )
    }
}

/// Who is calling: a user signed in, or an API key acting for its owner.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: String,
    /// The key used, when the call came with an API key.
    pub api_key_id: Option<String>,
    /// Effective grants: the user's role, narrowed by the key's role when there is one.
    pub grants: Grants,
    /// Teams the user belongs to.
    pub team_ids: Vec<String>,
    /// Users sharing at least one team with the user, the user included.
    pub teammate_ids: Vec<String>,
}

/// The rows a principal may reach, for the storage layer to turn into a SQL predicate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Visibility {
    Nothing,
    OwnedBy(String),
    Team { teammate_ids: Vec<String>, team_ids: Vec<String> },
    Everything,
}

/// The fields of a record that decide who reaches it.
#[derive(Debug, Clone, Copy)]
pub struct Ownership<'a> {
    pub owner_id: Option<&'a str>,
    pub team_id: Option<&'a str>,
}

/// Why an action was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// The principal may not see the record: report it as not found.
    Invisible,
    /// The principal sees the record or module but may not do this.
    Forbidden(String),
}

impl Principal {
    /// The scope this principal has for one module and action.
    pub fn scope(&self, module: Module, action: Action) -> Scope {
        self.grants.scope(module, action)
    }

    /// The rows of `module` that `action` reaches.
    pub fn visibility(&self, module: Module, action: Action) -> Visibility {
        match self.scope(module, action) {
            Scope::None => Visibility::Nothing,
            Scope::Own => Visibility::OwnedBy(self.user_id.clone()),
            Scope::Team => {
                Visibility::Team { teammate_ids: self.teammate_ids.clone(), team_ids: self.team_ids.clone() }
            }
            Scope::All => Visibility::Everything,
        }
    }

    /// True when `scope` reaches a record with this ownership.
    fn reaches(&self, scope: Scope, record: Ownership<'_>) -> bool {
        match scope {
            Scope::None => false,
            Scope::Own => record.owner_id == Some(self.user_id.as_str()),
            Scope::Team => {
                record.owner_id.is_some_and(|owner| self.teammate_ids.iter().any(|t| t == owner))
                    || record.team_id.is_some_and(|team| self.team_ids.iter().any(|t| t == team))
            }
            Scope::All => true,
        }
    }

    /// May the principal do `action` to a record it has already been shown (read-visible)?
    pub fn may(&self, module: Module, action: Action, record: Ownership<'_>) -> Result<(), Denied> {
        if !self.reaches(self.scope(module, Action::Read), record) {
            return Err(Denied::Invisible);
        }
        if self.reaches(self.scope(module, action), record) {
            Ok(())
        } else {
            Err(Denied::Forbidden(format!("your role does not allow {} on this record", action_name(action))))
        }
    }

    /// May the principal create a record with this ownership? Creating a record owned by
    /// someone else needs a create scope that reaches that owner.
    pub fn may_create(&self, module: Module, record: Ownership<'_>) -> Result<(), Denied> {
        let scope = self.scope(module, Action::Create);
        if scope == Scope::None {
            return Err(Denied::Forbidden("your role does not allow creating these records".into()));
        }
        if self.reaches(scope, record) {
            Ok(())
        } else {
            Err(Denied::Forbidden("your role does not allow assigning records to that owner or team".into()))
        }
    }

    /// May the principal do `action` in `module` at all (any scope)?
    pub fn may_in_module(&self, module: Module, action: Action) -> Result<(), Denied> {
        if self.scope(module, action) == Scope::None {
            Err(Denied::Forbidden(format!("your role does not allow {} here", action_name(action))))
        } else {
            Ok(())
        }
    }

    /// Admin-only areas need every action on settings at scope all.
    pub fn is_admin(&self) -> bool {
        Action::ALL.iter().all(|action| self.scope(Module::Settings, *action) == Scope::All)
    }
}

fn action_name(action: Action) -> &'static str {
    match action {
        Action::Read => "reading",
        Action::Create => "creating",
        Action::Edit => "editing",
        Action::Delete => "deleting",
        Action::Export => "exporting",
    }
}

macro_rules! string_enum {
    ($ty:ty { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(match self { $(Self::$variant => $name),+ })
            }
        }
        impl FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s { $($name => Ok(Self::$variant),)+ other => Err(format!("unknown value `{other}`")) }
            }
        }
    };
}

string_enum!(Module {
    Contacts => "contacts", Companies => "companies", Leads => "leads", Deals => "deals",
    Activities => "activities", Tasks => "tasks", Products => "products", Tickets => "tickets", Articles => "articles", Campaigns => "campaigns",
    Reports => "reports", Settings => "settings",
});
string_enum!(Action { Read => "read", Create => "create", Edit => "edit", Delete => "delete", Export => "export" });
string_enum!(Scope { None => "none", Own => "own", Team => "team", All => "all" });

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(role: BuiltInRole) -> Principal {
        Principal {
            user_id: "me".into(),
            api_key_id: None,
            grants: role.grants(),
            team_ids: vec!["team-a".into()],
            teammate_ids: vec!["me".into(), "mate".into()],
        }
    }

    fn owned_by(owner: &str) -> Ownership<'_> {
        Ownership { owner_id: Some(owner), team_id: None }
    }

    #[test]
    fn a_sales_rep_edits_own_records_sees_teammates_and_not_strangers() {
        let rep = principal(BuiltInRole::Sales);
        assert_eq!(rep.may(Module::Contacts, Action::Edit, owned_by("me")), Ok(()));
        assert!(matches!(rep.may(Module::Contacts, Action::Edit, owned_by("mate")), Err(Denied::Forbidden(_))));
        assert_eq!(rep.may(Module::Contacts, Action::Edit, owned_by("stranger")), Err(Denied::Invisible));
    }

    #[test]
    fn a_record_assigned_to_my_team_is_visible_to_team_scope() {
        let rep = principal(BuiltInRole::Sales);
        let record = Ownership { owner_id: Some("stranger"), team_id: Some("team-a") };
        assert_eq!(rep.may(Module::Contacts, Action::Read, record), Ok(()));
    }

    #[test]
    fn only_admins_hold_settings() {
        assert!(principal(BuiltInRole::Admin).is_admin());
        for role in [BuiltInRole::Manager, BuiltInRole::Sales, BuiltInRole::ReadOnly] {
            assert!(!principal(role).is_admin());
        }
    }

    #[test]
    fn read_only_may_not_create() {
        let reader = principal(BuiltInRole::ReadOnly);
        assert!(reader.may_create(Module::Contacts, owned_by("me")).is_err());
        assert_eq!(reader.visibility(Module::Contacts, Action::Read), Visibility::Everything);
    }

    #[test]
    fn creating_for_a_stranger_needs_scope_all() {
        let rep = principal(BuiltInRole::Sales);
        assert!(rep.may_create(Module::Contacts, owned_by("stranger")).is_err());
        assert_eq!(principal(BuiltInRole::Manager).may_create(Module::Contacts, owned_by("stranger")), Ok(()));
    }

    #[test]
    fn a_key_role_narrows_but_never_widens() {
        let sales = BuiltInRole::Sales.grants();
        let narrowed = sales.intersect(&BuiltInRole::ReadOnly.grants());
        assert_eq!(narrowed.scope(Module::Contacts, Action::Read), Scope::Team);
        assert_eq!(narrowed.scope(Module::Contacts, Action::Create), Scope::None);
        let widened = BuiltInRole::ReadOnly.grants().intersect(&BuiltInRole::Admin.grants());
        assert_eq!(widened.scope(Module::Settings, Action::Read), Scope::None);
    }

    #[test]
    fn names_round_trip() {
        for module in Module::ALL {
            assert_eq!(module.to_string().parse::<Module>(), Ok(module));
        }
        assert!("everything".parse::<Scope>().is_err());
    }
}
