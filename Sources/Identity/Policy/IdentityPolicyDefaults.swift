/// Keystone's default policy, so the Identity API authorizes requests as an
/// unmodified Keystone does until an operator overrides a rule.
///
/// Source: openstack/keystone, keystone/common/policies/*.py on master at
/// commit 30ef2ffa65a3486ef882f00538e20f2253c57d4c (July 2026; secure-RBAC
/// defaults including the domain-manager persona and the CVE-2026-42999 fix
/// to `identity:create_trust`). Each value is the `check_str` of the
/// corresponding `RuleDefault`, with base.py's string templates (SYSTEM_READER,
/// DOMAIN_READER, ADMIN_OR_SYSTEM_READER_OR_OWNER, ...) already expanded.
/// The `deprecated_rule` alternatives (consulted only with
/// `enforce_new_defaults = False`) are not included. `default` is Nimbus's addition: Keystone
/// registers no default rule, and `rule:admin_required` keeps unregistered
/// actions admin-only rather than open.
///
/// Use both tables: `PolicyEnforcer(defaults: rules, overrides: ...,
/// scopeTypes: scopeTypes)`. Rules compare against oslo-style flattened
/// targets; see `PolicyEnforcer.enforce` for how null target attributes must
/// be passed.
public enum IdentityPolicyDefaults {
    public static let rules: [String: String] = [
        "default": "rule:admin_required",
        // keystone/common/policies/base.py
        "admin_required": "role:admin or is_admin:1",
        "service_role": "role:service",
        "service_or_admin": "rule:admin_required or rule:service_role",
        "owner": "user_id:%(user_id)s",
        "admin_or_owner": "rule:admin_required or rule:owner",
        "token_subject": "user_id:%(target.token.user_id)s",
        "admin_or_token_subject": "rule:admin_required or rule:token_subject",
        "service_admin_or_token_subject": "rule:service_or_admin or rule:token_subject",
        "domain_managed_target_role": "'manager':%(target.role.name)s or 'member':%(target.role.name)s or 'reader':%(target.role.name)s",
        // keystone/common/policies/access_rule.py
        "identity:get_access_rule": "(role:reader and system_scope:all) or user_id:%(target.user.id)s",
        "identity:list_access_rules": "(role:reader and system_scope:all) or user_id:%(target.user.id)s",
        "identity:delete_access_rule": "(role:admin and system_scope:all) or user_id:%(target.user.id)s",
        // keystone/common/policies/access_token.py
        "identity:authorize_request_token": "rule:admin_required",
        "identity:get_access_token": "rule:admin_required",
        "identity:get_access_token_role": "rule:admin_required",
        "identity:list_access_tokens": "rule:admin_required",
        "identity:list_access_token_roles": "rule:admin_required",
        "identity:delete_access_token": "rule:admin_required",
        // keystone/common/policies/application_credential.py
        "identity:get_application_credential": "(rule:admin_required) or (role:reader and system_scope:all) or rule:owner",
        "identity:list_application_credentials": "(rule:admin_required) or (role:reader and system_scope:all) or rule:owner",
        "identity:create_application_credential": "user_id:%(user_id)s",
        "identity:delete_application_credential": "rule:admin_or_owner",
        // keystone/common/policies/auth.py
        "identity:get_auth_catalog": "",
        "identity:get_auth_projects": "",
        "identity:get_auth_domains": "",
        "identity:get_auth_system": "",
        // keystone/common/policies/consumer.py
        "identity:get_consumer": "rule:admin_required or (role:reader and system_scope:all)",
        "identity:list_consumers": "rule:admin_required or (role:reader and system_scope:all)",
        "identity:create_consumer": "rule:admin_required",
        "identity:update_consumer": "rule:admin_required",
        "identity:delete_consumer": "rule:admin_required",
        // keystone/common/policies/credential.py
        "identity:get_credential": "(rule:admin_required) or (role:reader and system_scope:all) or user_id:%(target.credential.user_id)s",
        "identity:list_credentials": "(rule:admin_required) or (role:reader and system_scope:all) or user_id:%(target.credential.user_id)s",
        "identity:create_credential": "(rule:admin_required) or user_id:%(target.credential.user_id)s",
        "identity:update_credential": "(rule:admin_required) or user_id:%(target.credential.user_id)s",
        "identity:delete_credential": "(rule:admin_required) or user_id:%(target.credential.user_id)s",
        // keystone/common/policies/domain.py
        "identity:get_domain": "rule:admin_required or (role:reader and system_scope:all) or token.domain.id:%(target.domain.id)s or token.project.domain.id:%(target.domain.id)s",
        "identity:list_domains": "rule:admin_required or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.domain.id)s)",
        "identity:create_domain": "rule:admin_required",
        "identity:update_domain": "rule:admin_required",
        "identity:delete_domain": "rule:admin_required",
        // keystone/common/policies/domain_config.py
        "identity:create_domain_config": "rule:admin_required",
        "identity:get_domain_config": "rule:admin_required or (role:reader and system_scope:all)",
        "identity:get_security_compliance_domain_config": "",
        "identity:update_domain_config": "rule:admin_required",
        "identity:delete_domain_config": "rule:admin_required",
        "identity:get_domain_config_default": "rule:admin_required or (role:reader and system_scope:all)",
        // keystone/common/policies/ec2_credential.py
        "identity:ec2_get_credential": "(rule:admin_required) or (role:reader and system_scope:all) or user_id:%(target.credential.user_id)s",
        "identity:ec2_list_credentials": "(rule:admin_required) or (role:reader and system_scope:all) or rule:owner",
        "identity:ec2_create_credential": "(rule:admin_required) or (role:member and user_id:%(target.credential.user_id)s)",
        "identity:ec2_delete_credential": "(rule:admin_required) or (role:member and user_id:%(target.credential.user_id)s)",
        // keystone/common/policies/endpoint.py
        "identity:get_endpoint": "rule:admin_required or (role:reader and system_scope:all)",
        "identity:list_endpoints": "rule:admin_required or (role:reader and system_scope:all)",
        "identity:create_endpoint": "rule:admin_required",
        "identity:update_endpoint": "rule:admin_required",
        "identity:delete_endpoint": "rule:admin_required",
        // keystone/common/policies/endpoint_group.py
        "identity:create_endpoint_group": "rule:admin_required",
        "identity:list_endpoint_groups": "rule:admin_required or (role:reader and system_scope:all)",
        "identity:get_endpoint_group": "rule:admin_required or (role:reader and system_scope:all)",
        "identity:update_endpoint_group": "rule:admin_required",
        "identity:delete_endpoint_group": "rule:admin_required",
        "identity:list_projects_associated_with_endpoint_group": "rule:admin_required or (role:reader and system_scope:all)",
        "identity:list_endpoints_associated_with_endpoint_group": "rule:admin_required or (role:reader and system_scope:all)",
        "identity:get_endpoint_group_in_project": "rule:admin_required or (role:reader and system_scope:all)",
        "identity:list_endpoint_groups_for_project": "rule:admin_required or (role:reader and system_scope:all)",
        "identity:add_endpoint_group_to_project": "rule:admin_required",
        "identity:remove_endpoint_group_from_project": "rule:admin_required",
        // keystone/common/policies/grant.py
        "identity:check_grant": "(rule:admin_required) or ((role:reader and system_scope:all) or ((role:reader and domain_id:%(target.user.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:reader and domain_id:%(target.user.domain_id)s and domain_id:%(target.domain.id)s) or (role:reader and domain_id:%(target.group.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:reader and domain_id:%(target.group.domain_id)s and domain_id:%(target.domain.id)s)) and (domain_id:%(target.role.domain_id)s or None:%(target.role.domain_id)s))",
        "identity:list_grants": "(rule:admin_required) or ((role:reader and system_scope:all) or (role:reader and domain_id:%(target.user.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:reader and domain_id:%(target.user.domain_id)s and domain_id:%(target.domain.id)s) or (role:reader and domain_id:%(target.group.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:reader and domain_id:%(target.group.domain_id)s and domain_id:%(target.domain.id)s))",
        "identity:create_grant": "(rule:admin_required) or ((role:admin and domain_id:%(target.user.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:admin and domain_id:%(target.user.domain_id)s and domain_id:%(target.domain.id)s) or (role:admin and domain_id:%(target.group.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:admin and domain_id:%(target.group.domain_id)s and domain_id:%(target.domain.id)s)) and (domain_id:%(target.role.domain_id)s or None:%(target.role.domain_id)s) or ((role:manager and domain_id:%(target.user.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:manager and domain_id:%(target.user.domain_id)s and domain_id:%(target.domain.id)s) or (role:manager and domain_id:%(target.group.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:manager and domain_id:%(target.group.domain_id)s and domain_id:%(target.domain.id)s)) and rule:domain_managed_target_role",
        "identity:revoke_grant": "(rule:admin_required) or ((role:admin and domain_id:%(target.user.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:admin and domain_id:%(target.user.domain_id)s and domain_id:%(target.domain.id)s) or (role:admin and domain_id:%(target.group.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:admin and domain_id:%(target.group.domain_id)s and domain_id:%(target.domain.id)s)) and (domain_id:%(target.role.domain_id)s or None:%(target.role.domain_id)s) or ((role:manager and domain_id:%(target.user.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:manager and domain_id:%(target.user.domain_id)s and domain_id:%(target.domain.id)s) or (role:manager and domain_id:%(target.group.domain_id)s and domain_id:%(target.project.domain_id)s) or (role:manager and domain_id:%(target.group.domain_id)s and domain_id:%(target.domain.id)s)) and rule:domain_managed_target_role",
        "identity:list_system_grants_for_user": "rule:admin_required or (role:reader and system_scope:all)",
        "identity:check_system_grant_for_user": "rule:admin_required or (role:reader and system_scope:all)",
        "identity:create_system_grant_for_user": "rule:admin_required",
        "identity:revoke_system_grant_for_user": "rule:admin_required",
        "identity:list_system_grants_for_group": "rule:admin_required or (role:reader and system_scope:all)",
        "identity:check_system_grant_for_group": "rule:admin_required or (role:reader and system_scope:all)",
        "identity:create_system_grant_for_group": "rule:admin_required",
        "identity:revoke_system_grant_for_group": "rule:admin_required",
        // keystone/common/policies/group.py
        "identity:get_group": "(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.group.domain_id)s)",
        "identity:list_groups": "(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.group.domain_id)s)",
        "identity:list_groups_for_user": "(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.user.domain_id)s) or user_id:%(user_id)s",
        "identity:create_group": "(rule:admin_required) or (role:manager and domain_id:%(target.group.domain_id)s)",
        "identity:update_group": "(rule:admin_required) or (role:manager and domain_id:%(target.group.domain_id)s)",
        "identity:delete_group": "(rule:admin_required) or (role:manager and domain_id:%(target.group.domain_id)s)",
        "identity:list_users_in_group": "(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.group.domain_id)s)",
        "identity:remove_user_from_group": "(rule:admin_required) or (role:manager and domain_id:%(target.group.domain_id)s and domain_id:%(target.user.domain_id)s)",
        "identity:check_user_in_group": "(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.group.domain_id)s and domain_id:%(target.user.domain_id)s)",
        "identity:add_user_to_group": "(rule:admin_required) or (role:manager and domain_id:%(target.group.domain_id)s and domain_id:%(target.user.domain_id)s)",
        // keystone/common/policies/identity_provider.py
        "identity:create_identity_provider": "rule:admin_required",
        "identity:list_identity_providers": "rule:admin_required or (role:reader and system_scope:all)",
        "identity:get_identity_provider": "rule:admin_required or (role:reader and system_scope:all)",
        "identity:update_identity_provider": "rule:admin_required",
        "identity:delete_identity_provider": "rule:admin_required",
        // keystone/common/policies/implied_role.py
        "identity:get_implied_role": "rule:admin_required or (role:reader and system_scope:all)",
        "identity:list_implied_roles": "rule:admin_required or (role:reader and system_scope:all)",
        "identity:create_implied_role": "rule:admin_required",
        "identity:delete_implied_role": "rule:admin_required",
        "identity:list_role_inference_rules": "rule:admin_required or (role:reader and system_scope:all)",
        "identity:check_implied_role": "rule:admin_required or (role:reader and system_scope:all)",
        // keystone/common/policies/limit.py
        "identity:get_limit_model": "",
        "identity:get_limit": "rule:admin_required or (role:reader and system_scope:all) or (domain_id:%(target.limit.domain.id)s or domain_id:%(target.limit.project.domain_id)s) or (project_id:%(target.limit.project_id)s and not None:%(target.limit.project_id)s)",
        "identity:list_limits": "",
        "identity:create_limits": "rule:admin_required",
        "identity:update_limit": "rule:admin_required",
        "identity:delete_limit": "rule:admin_required",
        // keystone/common/policies/mapping.py
        "identity:create_mapping": "rule:admin_required",
        "identity:get_mapping": "rule:admin_required or (role:reader and system_scope:all)",
        "identity:list_mappings": "rule:admin_required or (role:reader and system_scope:all)",
        "identity:delete_mapping": "rule:admin_required",
        "identity:update_mapping": "rule:admin_required",
        // keystone/common/policies/policy.py
        "identity:get_policy": "rule:admin_required or (role:reader and system_scope:all)",
        "identity:list_policies": "rule:admin_required or (role:reader and system_scope:all)",
        "identity:create_policy": "rule:admin_required",
        "identity:update_policy": "rule:admin_required",
        "identity:delete_policy": "rule:admin_required",
        // keystone/common/policies/policy_association.py
        "identity:create_policy_association_for_endpoint": "rule:admin_required",
        "identity:check_policy_association_for_endpoint": "rule:admin_required or (role:reader and system_scope:all)",
        "identity:delete_policy_association_for_endpoint": "rule:admin_required",
        "identity:create_policy_association_for_service": "rule:admin_required",
        "identity:check_policy_association_for_service": "rule:admin_required or (role:reader and system_scope:all)",
        "identity:delete_policy_association_for_service": "rule:admin_required",
        "identity:create_policy_association_for_region_and_service": "rule:admin_required",
        "identity:check_policy_association_for_region_and_service": "rule:admin_required or (role:reader and system_scope:all)",
        "identity:delete_policy_association_for_region_and_service": "rule:admin_required",
        "identity:get_policy_for_endpoint": "rule:admin_required or (role:reader and system_scope:all)",
        "identity:list_endpoints_for_policy": "rule:admin_required or (role:reader and system_scope:all)",
        // keystone/common/policies/project.py
        "identity:get_project": "(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.project.domain_id)s and not None:%(target.project.domain_id)s) or project_id:%(target.project.id)s",
        "identity:list_projects": "(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.domain_id)s)",
        "identity:list_user_projects": "(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.user.domain_id)s) or user_id:%(target.user.id)s",
        "identity:create_project": "(rule:admin_required) or (role:manager and domain_id:%(target.project.domain_id)s and not None:%(target.project.domain_id)s)",
        "identity:update_project": "(rule:admin_required) or (role:manager and domain_id:%(target.project.domain_id)s and not None:%(target.project.domain_id)s)",
        "identity:delete_project": "(rule:admin_required) or (role:manager and domain_id:%(target.project.domain_id)s and not None:%(target.project.domain_id)s)",
        "identity:list_project_tags": "(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.project.domain_id)s and not None:%(target.project.domain_id)s) or project_id:%(target.project.id)s",
        "identity:get_project_tag": "(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.project.domain_id)s and not None:%(target.project.domain_id)s) or project_id:%(target.project.id)s",
        "identity:update_project_tags": "(rule:admin_required) or (role:manager and domain_id:%(target.project.domain_id)s and not None:%(target.project.domain_id)s)",
        "identity:create_project_tag": "(rule:admin_required) or (role:manager and domain_id:%(target.project.domain_id)s and not None:%(target.project.domain_id)s)",
        "identity:delete_project_tags": "(rule:admin_required) or (role:manager and domain_id:%(target.project.domain_id)s and not None:%(target.project.domain_id)s)",
        "identity:delete_project_tag": "(rule:admin_required) or (role:manager and domain_id:%(target.project.domain_id)s and not None:%(target.project.domain_id)s)",
        // keystone/common/policies/project_endpoint.py
        "identity:list_projects_for_endpoint": "rule:admin_required or (role:reader and system_scope:all)",
        "identity:add_endpoint_to_project": "rule:admin_required",
        "identity:check_endpoint_in_project": "rule:admin_required or (role:reader and system_scope:all)",
        "identity:list_endpoints_for_project": "rule:admin_required or (role:reader and system_scope:all)",
        "identity:remove_endpoint_from_project": "rule:admin_required",
        // keystone/common/policies/protocol.py
        "identity:create_protocol": "rule:admin_required",
        "identity:update_protocol": "rule:admin_required",
        "identity:get_protocol": "rule:admin_required or (role:reader and system_scope:all)",
        "identity:list_protocols": "rule:admin_required or (role:reader and system_scope:all)",
        "identity:delete_protocol": "rule:admin_required",
        // keystone/common/policies/region.py
        "identity:get_region": "",
        "identity:list_regions": "",
        "identity:create_region": "rule:admin_required",
        "identity:update_region": "rule:admin_required",
        "identity:delete_region": "rule:admin_required",
        // keystone/common/policies/registered_limit.py
        "identity:get_registered_limit": "",
        "identity:list_registered_limits": "",
        "identity:create_registered_limits": "rule:admin_required",
        "identity:update_registered_limit": "rule:admin_required",
        "identity:delete_registered_limit": "rule:admin_required",
        // keystone/common/policies/revoke_event.py
        "identity:list_revoke_events": "rule:service_or_admin",
        // keystone/common/policies/role.py
        "identity:get_role": "(rule:admin_required or (role:reader and system_scope:all)) or (role:manager and rule:domain_managed_target_role)",
        "identity:list_roles": "(rule:admin_required or (role:reader and system_scope:all)) or (role:manager and not domain_id:None)",
        "identity:create_role": "rule:admin_required",
        "identity:update_role": "rule:admin_required",
        "identity:delete_role": "rule:admin_required",
        "identity:get_domain_role": "rule:admin_required or (role:reader and system_scope:all)",
        "identity:list_domain_roles": "rule:admin_required or (role:reader and system_scope:all)",
        "identity:create_domain_role": "rule:admin_required",
        "identity:update_domain_role": "rule:admin_required",
        "identity:delete_domain_role": "rule:admin_required",
        // keystone/common/policies/role_assignment.py
        "identity:list_role_assignments": "(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.domain_id)s)",
        "identity:list_role_assignments_for_tree": "(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.domain_id)s)",
        // keystone/common/policies/s3tokens.py
        "identity:s3tokens_validate": "rule:service_or_admin",
        // keystone/common/policies/ec2tokens.py
        "identity:ec2tokens_validate": "rule:service_or_admin",
        // keystone/common/policies/service.py
        "identity:get_service": "rule:admin_required or (role:reader and system_scope:all)",
        "identity:list_services": "rule:admin_required or (role:reader and system_scope:all)",
        "identity:create_service": "rule:admin_required",
        "identity:update_service": "rule:admin_required",
        "identity:delete_service": "rule:admin_required",
        // keystone/common/policies/service_provider.py
        "identity:create_service_provider": "rule:admin_required",
        "identity:list_service_providers": "rule:admin_required or (role:reader and system_scope:all)",
        "identity:get_service_provider": "rule:admin_required or (role:reader and system_scope:all)",
        "identity:update_service_provider": "rule:admin_required",
        "identity:delete_service_provider": "rule:admin_required",
        // keystone/common/policies/token_revocation.py
        "identity:revocation_list": "rule:service_or_admin",
        // keystone/common/policies/token.py
        "identity:check_token": "rule:admin_required or (role:reader and system_scope:all) or rule:token_subject",
        "identity:validate_token": "rule:admin_required or (role:reader and system_scope:all) or rule:service_role or rule:token_subject",
        "identity:revoke_token": "rule:admin_required or rule:token_subject",
        // keystone/common/policies/trust.py
        "identity:create_trust": "user_id:%(target.trust.trustor_user_id)s",
        "identity:list_trusts": "rule:admin_required or (role:reader and system_scope:all)",
        "identity:list_trusts_for_trustor": "(rule:admin_required) or (role:reader and system_scope:all or user_id:%(target.trust.trustor_user_id)s)",
        "identity:list_trusts_for_trustee": "(rule:admin_required) or (role:reader and system_scope:all or user_id:%(target.trust.trustee_user_id)s)",
        "identity:list_roles_for_trust": "(rule:admin_required) or (role:reader and system_scope:all or user_id:%(target.trust.trustor_user_id)s or user_id:%(target.trust.trustee_user_id)s)",
        "identity:get_role_for_trust": "(rule:admin_required) or (role:reader and system_scope:all or user_id:%(target.trust.trustor_user_id)s or user_id:%(target.trust.trustee_user_id)s)",
        "identity:delete_trust": "rule:admin_required or user_id:%(target.trust.trustor_user_id)s",
        "identity:get_trust": "(rule:admin_required) or (role:reader and system_scope:all or user_id:%(target.trust.trustor_user_id)s or user_id:%(target.trust.trustee_user_id)s)",
        // keystone/common/policies/user.py
        "identity:get_user": "(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and token.domain.id:%(target.user.domain_id)s) or user_id:%(target.user.id)s",
        "identity:list_users": "(rule:admin_required) or (role:reader and system_scope:all) or (role:reader and domain_id:%(target.domain_id)s)",
        "identity:list_projects_for_user": "",
        "identity:list_domains_for_user": "",
        "identity:create_user": "(rule:admin_required) or (role:manager and token.domain.id:%(target.user.domain_id)s)",
        "identity:update_user": "(rule:admin_required) or (role:manager and token.domain.id:%(target.user.domain_id)s)",
        "identity:delete_user": "(rule:admin_required) or (role:manager and token.domain.id:%(target.user.domain_id)s)",
    ]

    /// The `scope_types` of the rules above, for `PolicyEnforcer`'s
    /// `scopeTypes:`. Keystone relies on them as much as on the check strings:
    /// `identity:create_domain` is `rule:admin_required`, and only its scope
    /// types stop a domain-scoped admin from using it. Rules without scope
    /// types (base.py's building blocks, `identity:get_auth_*`,
    /// `identity:list_projects_for_user`, `identity:list_domains_for_user`)
    /// accept any token.
    public static let scopeTypes: [String: Set<String>] = {
        var types: [String: Set<String>] = [:]
        for name in systemOrProjectScoped { types[name] = ["system", "project"] }
        for name in anyScope { types[name] = ["system", "domain", "project"] }
        for name in projectScoped { types[name] = ["project"] }
        return types
    }()

    private static let systemOrProjectScoped: [String] = [
        "identity:get_access_rule", "identity:list_access_rules", "identity:delete_access_rule",
        "identity:get_application_credential", "identity:list_application_credentials",
        "identity:delete_application_credential", "identity:get_consumer", "identity:list_consumers",
        "identity:create_consumer", "identity:update_consumer", "identity:delete_consumer", "identity:create_domain",
        "identity:update_domain", "identity:delete_domain", "identity:create_domain_config",
        "identity:get_domain_config", "identity:update_domain_config", "identity:delete_domain_config",
        "identity:get_domain_config_default", "identity:ec2_get_credential", "identity:ec2_list_credentials",
        "identity:ec2_create_credential", "identity:ec2_delete_credential", "identity:get_endpoint",
        "identity:list_endpoints", "identity:create_endpoint", "identity:update_endpoint", "identity:delete_endpoint",
        "identity:create_endpoint_group", "identity:list_endpoint_groups", "identity:get_endpoint_group",
        "identity:update_endpoint_group", "identity:delete_endpoint_group",
        "identity:list_projects_associated_with_endpoint_group",
        "identity:list_endpoints_associated_with_endpoint_group", "identity:get_endpoint_group_in_project",
        "identity:list_endpoint_groups_for_project", "identity:add_endpoint_group_to_project",
        "identity:remove_endpoint_group_from_project", "identity:list_system_grants_for_user",
        "identity:check_system_grant_for_user", "identity:create_system_grant_for_user",
        "identity:revoke_system_grant_for_user", "identity:list_system_grants_for_group",
        "identity:check_system_grant_for_group", "identity:create_system_grant_for_group",
        "identity:revoke_system_grant_for_group", "identity:create_identity_provider",
        "identity:list_identity_providers", "identity:get_identity_provider", "identity:update_identity_provider",
        "identity:delete_identity_provider", "identity:get_implied_role", "identity:list_implied_roles",
        "identity:create_implied_role", "identity:delete_implied_role", "identity:list_role_inference_rules",
        "identity:check_implied_role", "identity:create_limits", "identity:update_limit", "identity:delete_limit",
        "identity:create_mapping", "identity:get_mapping", "identity:list_mappings", "identity:delete_mapping",
        "identity:update_mapping", "identity:get_policy", "identity:list_policies", "identity:create_policy",
        "identity:update_policy", "identity:delete_policy", "identity:create_policy_association_for_endpoint",
        "identity:check_policy_association_for_endpoint", "identity:delete_policy_association_for_endpoint",
        "identity:create_policy_association_for_service", "identity:check_policy_association_for_service",
        "identity:delete_policy_association_for_service", "identity:create_policy_association_for_region_and_service",
        "identity:check_policy_association_for_region_and_service",
        "identity:delete_policy_association_for_region_and_service", "identity:get_policy_for_endpoint",
        "identity:list_endpoints_for_policy", "identity:list_projects_for_endpoint", "identity:add_endpoint_to_project",
        "identity:check_endpoint_in_project", "identity:list_endpoints_for_project",
        "identity:remove_endpoint_from_project", "identity:create_protocol", "identity:update_protocol",
        "identity:get_protocol", "identity:list_protocols", "identity:delete_protocol", "identity:create_region",
        "identity:update_region", "identity:delete_region", "identity:create_registered_limits",
        "identity:update_registered_limit", "identity:delete_registered_limit", "identity:list_revoke_events",
        "identity:create_role", "identity:update_role", "identity:delete_role", "identity:get_domain_role",
        "identity:list_domain_roles", "identity:create_domain_role", "identity:update_domain_role",
        "identity:delete_domain_role", "identity:get_service", "identity:list_services", "identity:create_service",
        "identity:update_service", "identity:delete_service", "identity:create_service_provider",
        "identity:list_service_providers", "identity:get_service_provider", "identity:update_service_provider",
        "identity:delete_service_provider", "identity:revocation_list", "identity:list_trusts",
        "identity:list_trusts_for_trustor", "identity:list_trusts_for_trustee", "identity:list_roles_for_trust",
        "identity:get_role_for_trust", "identity:delete_trust", "identity:get_trust",
    ]

    private static let anyScope: [String] = [
        "identity:get_credential", "identity:list_credentials", "identity:create_credential",
        "identity:update_credential", "identity:delete_credential", "identity:get_domain", "identity:list_domains",
        "identity:get_security_compliance_domain_config", "identity:check_grant", "identity:list_grants",
        "identity:create_grant", "identity:revoke_grant", "identity:get_group", "identity:list_groups",
        "identity:list_groups_for_user", "identity:create_group", "identity:update_group", "identity:delete_group",
        "identity:list_users_in_group", "identity:remove_user_from_group", "identity:check_user_in_group",
        "identity:add_user_to_group", "identity:get_limit_model", "identity:get_limit", "identity:list_limits",
        "identity:get_project", "identity:list_projects", "identity:list_user_projects", "identity:create_project",
        "identity:update_project", "identity:delete_project", "identity:list_project_tags", "identity:get_project_tag",
        "identity:update_project_tags", "identity:create_project_tag", "identity:delete_project_tags",
        "identity:delete_project_tag", "identity:get_region", "identity:list_regions", "identity:get_registered_limit",
        "identity:list_registered_limits", "identity:get_role", "identity:list_roles", "identity:list_role_assignments",
        "identity:list_role_assignments_for_tree", "identity:s3tokens_validate", "identity:ec2tokens_validate",
        "identity:check_token", "identity:validate_token", "identity:revoke_token", "identity:get_user",
        "identity:list_users", "identity:create_user", "identity:update_user", "identity:delete_user",
    ]

    private static let projectScoped: [String] = [
        "identity:authorize_request_token", "identity:get_access_token", "identity:get_access_token_role",
        "identity:list_access_tokens", "identity:list_access_token_roles", "identity:delete_access_token",
        "identity:create_application_credential", "identity:create_trust",
    ]
}
