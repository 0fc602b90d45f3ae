import { reduceErrors } from 'c/d365LdsUtils';

describe('c/d365LdsUtils reduceErrors', () => {
    it('returns the message of an Apex AuraHandledException', () => {
        const error = { body: { message: 'D365 did not answer in time. Try again.' }, status: 500 };

        expect(reduceErrors(error)).toEqual(['D365 did not answer in time. Try again.']);
    });

    it('returns every message of a UI API read error list', () => {
        const error = { body: [{ message: 'First problem' }, { message: 'Second problem' }] };

        expect(reduceErrors(error)).toEqual(['First problem', 'Second problem']);
    });

    it('returns page and field errors of a DML error', () => {
        const error = {
            body: {
                message: 'An error occurred while trying to update the record.',
                pageErrors: [{ message: 'Record is locked' }],
                fieldErrors: { Name: [{ message: 'Name is too long' }] }
            }
        };

        expect(reduceErrors(error)).toEqual(['Record is locked', 'Name is too long']);
    });

    it('returns the message of a JavaScript error', () => {
        expect(reduceErrors(new TypeError('x is undefined'))).toEqual(['x is undefined']);
    });

    it('falls back to the status text of an unknown error shape', () => {
        expect(reduceErrors({ status: 503, statusText: 'Service Unavailable' })).toEqual([
            'Service Unavailable'
        ]);
    });

    it('flattens a list of errors, dropping empty entries and duplicate messages', () => {
        const errors = [
            null,
            { body: { message: 'Same text' } },
            new Error('Same text'),
            { body: { message: '' } },
            { statusText: undefined }
        ];

        expect(reduceErrors(errors)).toEqual(['Same text']);
    });
});
