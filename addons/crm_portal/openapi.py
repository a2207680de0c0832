# OpenAPI description of the REST methods of a tenant, from the registry.
from trytond.i18n import gettext

__all__ = ['build_openapi']

ERROR_SCHEMA = {
    'type': 'object',
    'properties': {
        'error': {'type': 'string'},
        'error_description': {'type': 'string'},
        },
    'required': ['error', 'error_description'],
    }
TIME_SCHEMA = {
    'type': 'object',
    'properties': {k: {'type': 'number'}
        for k in ['start', 'finish', 'duration', 'processing']},
    }


def _error(description):
    return {
        'description': description,
        'content': {'application/json': {
                'schema': {'$ref': '#/components/schemas/Error'}}},
        }


def _operation(method):
    properties = {name: {'description': text}
        for name, text in sorted(method.params.items())}
    result = {
        'result': {'description': "The result of the method"},
        'time': {'$ref': '#/components/schemas/Time'},
        }
    if method.paged:
        result['total'] = {'type': 'integer',
            'description': "Number of records matching"}
        result['next'] = {'type': 'integer',
            'description': "`start` of the next page (absent on the last)"}
    operation = {
        'operationId': method.name,
        'summary': method.description or method.name,
        'tags': [method.scope or 'core'],
        'x-scope': method.scope,
        'x-readonly': bool(method.readonly),
        'requestBody': {
            'required': False,
            'content': {
                'application/json': {'schema': {
                        'type': 'object', 'properties': properties}},
                'application/x-www-form-urlencoded': {'schema': {
                        'type': 'object', 'properties': properties}},
                },
            },
        'responses': {
            '200': {
                'description': "Success",
                'content': {'application/json': {'schema': {
                            'type': 'object', 'properties': result}}},
                },
            '400': _error("Invalid parameters"),
            '401': _error("NO_AUTH_FOUND or INVALID_CREDENTIALS"),
            '403': _error("insufficient_scope"),
            '404': _error("ERROR_METHOD_NOT_FOUND"),
            '413': _error("Request too large"),
            '503': _error("QUERY_LIMIT_EXCEEDED"),
            },
        }
    if method.paged:
        operation['parameters'] = [{
                'name': 'start', 'in': 'query', 'required': False,
                'schema': {'type': 'integer', 'minimum': 0},
                'description': "Offset of the page (pages of 50)",
                }]
    return operation


def build_openapi(Rest, database_name):
    "Return the OpenAPI 3 document of the methods of Rest (crm.rest)"
    paths = {}
    for name, method in sorted(Rest.methods().items()):
        path_params = [
            {'name': 'user_id', 'in': 'path', 'required': True,
                'schema': {'type': 'integer'}},
            {'name': 'token', 'in': 'path', 'required': True,
                'schema': {'type': 'string'}},
            ]
        operation = _operation(method)
        get = dict(operation, operationId=f'{name}.get')
        del get['requestBody']
        paths[f'/{{user_id}}/{{token}}/{name}.json'] = {
            'parameters': path_params,
            'post': operation,
            'get': get,
            }
    return {
        'openapi': '3.0.3',
        'info': {
            'title': gettext('crm_portal.msg_rest_openapi_title'),
            'version': '1',
            'description': gettext(
                'crm_portal.msg_rest_openapi_description'),
            },
        'servers': [{'url': f'/{database_name}/rest'}],
        'paths': paths,
        'components': {'schemas': {
                'Error': ERROR_SCHEMA,
                'Time': TIME_SCHEMA,
                }},
        }
