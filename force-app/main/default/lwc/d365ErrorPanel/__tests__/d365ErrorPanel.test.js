import { createElement } from 'lwc';
import D365ErrorPanel from 'c/d365ErrorPanel';

function renderPanel(properties) {
    const element = createElement('c-d365-error-panel', { is: D365ErrorPanel });
    Object.assign(element, properties);
    document.body.appendChild(element);
    return element;
}

describe('c-d365-error-panel', () => {
    afterEach(() => {
        while (document.body.firstChild) {
            document.body.removeChild(document.body.firstChild);
        }
    });

    it('shows the friendly message and each reduced error message', () => {
        const element = renderPanel({
            friendlyMessage: 'Stock could not be loaded.',
            errors: [{ body: { message: 'The relay is down.' } }, new Error('Timed out')]
        });

        const summary = element.shadowRoot.querySelector('.friendly-message');
        const items = element.shadowRoot.querySelectorAll('.error-messages li');
        expect(summary.textContent).toBe('Stock could not be loaded.');
        expect(Array.from(items).map((item) => item.textContent)).toEqual([
            'The relay is down.',
            'Timed out'
        ]);
    });

    it('shows a generic summary and no list when the error carries no message', () => {
        const element = renderPanel({ errors: { status: 500 } });

        expect(element.shadowRoot.querySelector('.friendly-message').textContent).toBe(
            'Something went wrong.'
        );
        expect(element.shadowRoot.querySelector('.error-messages')).toBeNull();
    });

    it('announces itself as an alert to assistive technology', () => {
        const element = renderPanel({ errors: new Error('Boom') });

        expect(element.shadowRoot.querySelector('[role="alert"]')).not.toBeNull();
    });

    it('is accessible', async () => {
        const element = renderPanel({ errors: new Error('Boom') });

        await expect(element).toBeAccessible();
    });
});
