# Calls of the Telegram Bot API (https://core.telegram.org/bots/api) at
# the channel's configurable base URL: sendMessage, answerCallbackQuery,
# getFile and the file download.
import json
import urllib.error
import urllib.parse
import urllib.request

TIMEOUT = 20


class DeliveryError(Exception):
    "A message not delivered; final when trying again cannot help"

    def __init__(self, message, final=False):
        super().__init__(message)
        self.final = final


def rating_keyboard(conversation_id):
    "An inline keyboard of the ratings 1 to 5 (callback 'rate:<id>:<n>')"
    return {'inline_keyboard': [[
                {'text': str(n), 'callback_data': 'rate:%s:%s' % (
                        conversation_id, n)} for n in range(1, 6)]]}


def telegram_call(api_url, bot_token, method, body):
    """POST body (JSON) to a Bot API method; return its result or raise
    DeliveryError with the API's description"""
    url = '%s/bot%s/%s' % (api_url.rstrip('/'), bot_token, method)
    request = urllib.request.Request(url, method='POST',
        data=json.dumps(body).encode('utf-8'),
        headers={'Content-Type': 'application/json'})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            answer = json.loads(response.read(1024 * 1024) or b'{}')
    except urllib.error.HTTPError as error:
        try:
            answer = json.loads(error.read(64 * 1024) or b'{}')
        except ValueError:
            answer = {}
        # 400 (chat not found...) and 403 (bot blocked) will not change
        raise DeliveryError(answer.get('description') or str(error),
            final=error.code in {400, 401, 403, 404})
    except (OSError, ValueError) as error:
        raise DeliveryError(str(error))
    if not answer.get('ok'):
        raise DeliveryError(answer.get('description') or 'not ok')
    return answer.get('result')


def telegram_file(api_url, bot_token, file_id, limit):
    """Download a file a client sent (getFile, then the file path under
    /file/bot<token>/); return its bytes, None when larger than limit"""
    result = telegram_call(api_url, bot_token, 'getFile',
        {'file_id': file_id})
    if not isinstance(result, dict) or not isinstance(
            result.get('file_path'), str):
        raise DeliveryError('getFile gave no file_path')
    if (result.get('file_size') or 0) > limit:
        return None
    # the path is the API's: keep it under /file/ of the same base
    path = urllib.parse.quote(result['file_path'].lstrip('/'), safe='/')
    if '..' in path.split('/'):
        raise DeliveryError('bad file_path')
    url = '%s/file/bot%s/%s' % (api_url.rstrip('/'), bot_token, path)
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            data = response.read(limit + 1)
    except (OSError, ValueError) as error:
        raise DeliveryError(str(error))
    if len(data) > limit:
        return None
    return data
