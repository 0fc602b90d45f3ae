/**
 * Turns the error shapes Lightning hands to components (Apex AuraHandledException,
 * UI API record errors, page/field DML errors, network failures and plain JS errors)
 * into a flat list of readable messages.
 * Prefixed with d365 because this package has no namespace: a generic name such as
 * ldsUtils could overwrite a component of the same name already in the customer's org.
 * @param {Object|Object[]} errors one error or a list of errors
 * @returns {string[]} distinct, non-empty messages
 */
export function reduceErrors(errors) {
    const list = Array.isArray(errors) ? errors : [errors];
    const messages = list
        .filter((error) => !!error)
        .map((error) => messagesOf(error))
        .flat()
        .filter((message) => typeof message === 'string' && message.trim() !== '');
    return [...new Set(messages)];
}

function messagesOf(error) {
    const body = error.body;
    if (Array.isArray(body)) {
        // UI API read errors (e.g. getRecord) arrive as a list of { message }.
        return body.map((entry) => entry.message);
    }
    if (body) {
        const pageErrors = (body.pageErrors || []).map((entry) => entry.message);
        const fieldErrors = Object.values(body.fieldErrors || {})
            .flat()
            .map((entry) => entry.message);
        const dmlMessages = [...pageErrors, ...fieldErrors];
        if (dmlMessages.length > 0) {
            return dmlMessages;
        }
        if (typeof body.message === 'string') {
            // Apex AuraHandledException, UI API DML errors and network errors.
            return [body.message];
        }
    }
    if (typeof error.message === 'string') {
        return [error.message];
    }
    return [error.statusText];
}
