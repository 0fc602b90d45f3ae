import { LightningElement, api } from 'lwc';
import { reduceErrors } from 'c/d365LdsUtils';

/**
 * Shows what went wrong in words a sales rep can act on: a short summary plus each
 * message from the error(s) it is given.
 */
export default class D365ErrorPanel extends LightningElement {
    /** Summary line shown above the detailed messages. */
    @api friendlyMessage = 'Something went wrong.';

    /** One error or a list of errors, in any shape reduceErrors understands. */
    @api errors;

    get messages() {
        return reduceErrors(this.errors);
    }

    get hasMessages() {
        return this.messages.length > 0;
    }
}
